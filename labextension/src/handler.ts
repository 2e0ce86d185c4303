import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/**
 * An error answered by the server extension: its JSON `message` when there is one.
 */
export class AutoCoderRequestError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
    this.name = 'AutoCoderRequestError';
  }
}

/**
 * Call the server extension's REST API (`<base_url>/autocoder/api/<endPoint>`).
 *
 * Every request of the front end goes through here, so authentication (the token
 * or cookie of ServerConnection) and error handling are in one place.
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, 'autocoder', 'api', endPoint);

  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }

  const text = await response.text();
  let data: any = text;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      // Not JSON (a proxy's error page, say): keep the text for the message.
    }
  }

  if (!response.ok) {
    const message =
      (data && typeof data === 'object' && data.message) ||
      `${response.status} ${response.statusText}`;
    throw new AutoCoderRequestError(String(message), response.status);
  }
  return data as T;
}
