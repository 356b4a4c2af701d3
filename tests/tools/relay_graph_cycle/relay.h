/* fixture: module relay */
