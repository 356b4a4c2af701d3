/* fixture: module router */
