/* fixture: module server */
