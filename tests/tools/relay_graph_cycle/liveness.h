/* fixture: module liveness */
