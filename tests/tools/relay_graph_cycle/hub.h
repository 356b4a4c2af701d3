/* fixture: module hub */
