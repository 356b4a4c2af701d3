// The files half of the chat API through the relay (docs/chat.md,
// "Files"): /api/v1/devices/{id}/chat/files... answered by the device's
// agent. Listing, reading a file chunk by chunk (base64 in JSON) into a
// Blob, uploading chunk by chunk (PUT, base64 in JSON; the last chunk says
// final and the agent renames the file into place atomically).
import { ApiError, api } from "../api";
import { base64ToBytes, bytesToBase64, chunkPlan, DOWNLOAD_MAX, fmtSize, UPLOAD_CHUNK, UPLOAD_MAX } from "./files";

export interface Entry {
  name: string;
  path: string;
  type: "file" | "dir" | "link" | "other" | string;
  size: number;
  mtime: number;
  mode: number;
}

export interface Listing {
  path: string;
  entries: Entry[];
  truncated: boolean;
}

interface ContentChunk {
  path: string;
  size: number;
  offset: number;
  length: number;
  data_b64: string;
  eof: boolean;
  mtime: number;
}

interface UploadAnswer {
  upload_id?: string;
  path: string;
  received?: number;
  done?: boolean;
  size?: number;
  sha256?: string;
}

// Progress of a transfer: bytes done of total.
export type Progress = (done: number, total: number) => void;

// How often a download starts again when the file changes underneath it.
const DOWNLOAD_RESTARTS = 2;

export class FilesApi {
  readonly base: string;
  constructor(deviceId: string) {
    this.base = `/api/v1/devices/${encodeURIComponent(deviceId)}/chat/files`;
  }
  private q(params: Record<string, string | number | undefined>): string {
    const s = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined) s.set(k, String(v));
    const t = s.toString();
    return t ? "?" + t : "";
  }

  // A directory ("" or absent: $HOME; the answer's path is where it is).
  list(path = "") {
    return api<Listing>("GET", `${this.base}${this.q({ path })}`);
  }
  stat(path: string) {
    return api<Entry>("GET", `${this.base}/stat${this.q({ path })}`);
  }
  mkdir(path: string) {
    return api<Entry>("POST", `${this.base}/mkdir`, { path });
  }

  // The whole file as a Blob, read chunk by chunk from offset 0 until eof.
  // A size or mtime that changes between chunks means the file changed
  // underneath: it is read again from the start (a few times at most).
  // signal: stops between chunks (ApiError "aborted").
  async download(path: string, onProgress: Progress, signal: AbortSignal, type = "application/octet-stream"): Promise<Blob> {
    for (let attempt = 0; ; attempt++) {
      const parts: Uint8Array<ArrayBuffer>[] = [];
      let offset = 0;
      let first: ContentChunk | null = null;
      let changed = false;
      for (;;) {
        if (signal.aborted) throw new ApiError(0, "aborted", "Cancelled.");
        const c = await api<ContentChunk>("GET", `${this.base}/content${this.q({ path, offset })}`);
        if (signal.aborted) throw new ApiError(0, "aborted", "Cancelled.");
        if (!first) {
          first = c;
          if (c.size > DOWNLOAD_MAX) throw new ApiError(0, "too_large_here", `The file is ${fmtSize(c.size)}: the browser downloads at most ${fmtSize(DOWNLOAD_MAX)} from a device.`);
        } else if (c.size !== first.size || c.mtime !== first.mtime) {
          changed = true;
          break;
        }
        const bytes = base64ToBytes(c.data_b64);
        if (!bytes || bytes.length !== c.length || c.offset !== offset) throw new ApiError(0, "bad_response", "The agent sent a piece of the file that does not fit; try again.");
        parts.push(bytes as Uint8Array<ArrayBuffer>);
        offset += bytes.length;
        onProgress(offset, c.size);
        if (c.eof) break;
        if (bytes.length === 0) throw new ApiError(0, "bad_response", "The agent sent an empty piece before the end of the file.");
      }
      if (!changed) return new Blob(parts, { type });
      if (attempt >= DOWNLOAD_RESTARTS) throw new ApiError(0, "changed", "The file kept changing while it was read; try again when it is still.");
      onProgress(0, first?.size ?? 0);
    }
  }

  // A file uploaded to path in chunks of UPLOAD_CHUNK bytes; the last one
  // final. overwrite: replace a file that is there (else 409 exists).
  // signal: stops between chunks (the agent removes the unfinished
  // temporary file when the upload has been idle long enough).
  async upload(path: string, file: Blob, onProgress: Progress, signal: AbortSignal, overwrite = false): Promise<UploadAnswer> {
    if (file.size > UPLOAD_MAX) throw new ApiError(413, "upload_too_large", `The file is ${fmtSize(file.size)}.`);
    let id: string | undefined;
    let last: UploadAnswer | null = null;
    for (const c of chunkPlan(file.size, UPLOAD_CHUNK)) {
      if (signal.aborted) throw new ApiError(0, "aborted", "Cancelled.");
      const bytes = new Uint8Array(await file.slice(c.offset, c.offset + c.length).arrayBuffer());
      const body: Record<string, unknown> = { path, offset: c.offset, data_b64: bytesToBase64(bytes) };
      if (c.final) body.final = true;
      if (id) body.upload_id = id;
      else if (overwrite) body.overwrite = true;
      last = await api<UploadAnswer>("PUT", `${this.base}/content`, body);
      if (!id && last.upload_id) id = last.upload_id;
      if (!c.final && !id) throw new ApiError(0, "bad_response", "The agent did not name the upload.");
      onProgress(c.offset + c.length, file.size);
    }
    return last!;
  }
}
