/* fixture: module events */
