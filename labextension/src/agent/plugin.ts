import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';

import { IAgentConnection } from '../tokens';
import { AgentConnection } from './connection';

/** The WebSocket to the agent on the server, one for the page. */
export const connectionPlugin: JupyterFrontEndPlugin<IAgentConnection> = {
  id: 'jupyter-autocoder:connection',
  description: 'The WebSocket to the AutoCoder agent on the server.',
  autoStart: true,
  provides: IAgentConnection,
  activate: (app: JupyterFrontEnd): IAgentConnection => {
    const connection = new AgentConnection(app.serviceManager.serverSettings);
    // Opened early: the first Send should not wait for a handshake.
    void app.restored.then(() => connection.connect());
    return connection;
  }
};
