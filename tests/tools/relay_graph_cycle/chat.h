/* fixture: module chat */
