/* fixture: module pending */
