/* fixture: module router_local */
