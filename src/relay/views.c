/* views: JSON views of stored rows. */
#include "relay/views.h"

json_t *cl_json_user(const struct cl_user *u)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "id", u->id, "email", u->email, "display_name",
                          u->display_name, "created_at", (json_int_t)u->created_at);
    json_object_set_new(o, "email_verified", json_boolean(u->email_verified_at != 0));
    json_object_set_new(o, "avatar_url",
                        u->avatar_url[0] ? json_string(u->avatar_url) : json_null());
    return o;
}

json_t *cl_json_project(const struct cl_project *p)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "id", p->id, "name", p->name, "owner_id",
                     p->owner_id, "role", p->role == CL_ROLE_OWNER ? "owner" : "member",
                     "created_at", (json_int_t)p->created_at, "updated_at",
                     (json_int_t)p->updated_at);
}

json_t *cl_json_device(const struct cl_device *d)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:b, s:I}", "id", d->id, "project_id", d->project_id,
                  "name", d->name, "status", d->online ? "online" : "offline", "paired", d->paired,
                  "created_at", (json_int_t)d->created_at);
    json_object_set_new(o, "last_seen", d->last_seen ? json_integer(d->last_seen) : json_null());
    json_object_set_new(o, "kind", json_string(d->kind[0] ? d->kind : CL_DEVICE_KIND_CONNECTOR));
    /* when the live pairing code expires; null: no code to use */
    json_object_set_new(o, "pairing_code_expires_at",
                        d->code_expires_at ? json_integer(d->code_expires_at) : json_null());
    return o;
}
