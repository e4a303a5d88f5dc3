/** The dashboard's calls to /api/ops: the session cookie goes with each; a 401 means signed out. */

export class SignedOut extends Error {
  override name = "SignedOut";
}

export class ApiFailure extends Error {
  override name = "ApiFailure";
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

async function answer<T>(response: Response): Promise<T> {
  if (response.status === 401) throw new SignedOut("signed out");
  const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
  if (!response.ok) throw new ApiFailure(body?.error?.message ?? `the server answered ${response.status}`, response.status);
  return body as T;
}

export async function getJson<T>(path: string): Promise<T> {
  return answer<T>(await fetch(path, { credentials: "same-origin", headers: { accept: "application/json" } }));
}

export async function sendJson<T>(method: "POST" | "PUT" | "DELETE", path: string, body?: unknown): Promise<T> {
  return answer<T>(
    await fetch(path, {
      method,
      credentials: "same-origin",
      headers: { accept: "application/json", ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? null : JSON.stringify(body),
    }),
  );
}
