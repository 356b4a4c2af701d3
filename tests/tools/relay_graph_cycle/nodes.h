/* fixture: module nodes */
