/* fixture: module conn */
int cl_conn_send(struct cl_conn *c, const char *text, size_t len);
