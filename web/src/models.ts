// The API's objects as the web app reads them (docs/api.md). One
// definition per object, shared by the pages. Times are Unix seconds.

export interface Project {
  id: string;
  name: string;
  owner_id: string;
  role: "owner" | "member";
  created_at: number;
  updated_at: number;
}

export interface Device {
  id: string;
  project_id: string;
  name: string;
  status: "online" | "offline";
  paired: boolean;
  last_seen: number | null;
  created_at: number;
  kind: "connector" | "openclaw" | string;
  pairing_code_expires_at: number | null;
  // GET /api/v1/devices/{id} only (docs/api.md): what the device told
  // about itself (hello's meta, meta_update), where it connects from, and
  // since when it is online (across short reconnects) and connected.
  meta?: Record<string, string | number>;
  meta_updated_at?: number | null;
  remote_addr?: string | null;
  online_since?: number | null;
  connected_at?: number | null;
}

export interface SessionRow {
  id: string;
  device_id: string;
  device_name: string;
  status: "active" | "ended";
  user: { id: string; email: string; display_name: string | null } | null;
  started_at: number;
  ended_at: number | null;
  end_reason: string | null;
  exit_code: number | null;
  // how the viewer may attach, as the relay's policy decides: control,
  // view, or null (ended, or not shared with them: offer no Attach)
  attach: "control" | "view" | null;
  // a user's name for it (null: none), and the automatic title its agent
  // reports ("vim · ~/src"; null: none yet, or a PrivaClaw connector)
  name: string | null;
  title: string | null;
  viewers: number; // browsers attached now (0 once ended)
}

export interface Member {
  user_id: string;
  email: string;
  display_name: string | null;
  role: "owner" | "member";
  invited_by: string | null;
  joined_at: number;
}
