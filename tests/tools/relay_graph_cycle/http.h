/* fixture: module http */
