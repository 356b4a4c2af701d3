// Why a session ended, in words (session_end reasons: docs/protocol.md,
// "Session end reasons", whose names are enum cl_end_reason's in C). Shared
// by the terminal and the session history.
const WHY: Record<string, string> = {
  exit: "the shell exited",
  hangup: "the session was hung up",
  ended_by_user: "ended by a user",
  user_disconnect: "the user disconnected",
  idle: "idle for too long",
  agent_lost: "the device did not come back",
  not_resumed: "the device came back without it (its agent restarted)",
  member_removed: "its user left the project",
  device_repaired: "the device was paired again",
  device_deleted: "the device was deleted",
  project_deleted: "the project was deleted",
  account_deleted: "its user's account was deleted",
  limit: "the device runs too many sessions",
  error: "the shell could not be started",
  unknown_session: "the device no longer knew it",
  capability_denied: "the device does not allow terminals",
};

export function endReasonText(reason: string): string {
  return WHY[reason] ?? reason;
}
