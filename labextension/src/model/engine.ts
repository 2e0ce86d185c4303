import { IPoll, Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { requestAPI } from '../handler';
import { IEngineModel, IModelsReply, IStatusReply } from '../tokens';

/** While the model downloads or loads, the status is asked for this often. */
const BUSY_INTERVAL_MS = 1000;

/**
 * The model engine as the page sees it: one poll of GET /autocoder/api/status for
 * every view (status bar, panel header), the catalogue, and the model actions.
 */
export class EngineModel implements IEngineModel {
  constructor(refreshSeconds = 5) {
    this._refreshSeconds = refreshSeconds;
    this._poll = new Poll({
      auto: false,
      factory: () => this._fetchStatus(),
      frequency: this._frequency(),
      name: 'jupyter-autocoder:engine-status',
      standby: 'when-hidden'
    });
  }

  get status(): IStatusReply | null {
    return this._status;
  }

  get error(): string {
    return this._error;
  }

  get models(): IModelsReply | null {
    return this._models;
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._poll.isDisposed;
  }

  get refreshSeconds(): number {
    return this._refreshSeconds;
  }

  set refreshSeconds(seconds: number) {
    this._refreshSeconds = Math.max(1, seconds || 5);
    this._poll.frequency = this._frequency();
  }

  /** Begin polling. */
  start(): void {
    void this._poll.start();
  }

  async refresh(): Promise<void> {
    try {
      await this._fetchStatus();
    } catch {
      // Reported through `error`; the poll keeps asking.
    }
  }

  async refreshModels(): Promise<void> {
    try {
      this._models = await requestAPI<IModelsReply>('models');
      this._changed.emit();
    } catch (error) {
      this._error = (error as Error).message;
      this._changed.emit();
      throw error;
    }
  }

  async switchModel(name: string): Promise<void> {
    await requestAPI('models/switch', {
      method: 'POST',
      body: JSON.stringify({ model: name })
    });
    await Promise.all([this.refresh(), this.refreshModels()]);
  }

  async load(): Promise<void> {
    await requestAPI('models/load', { method: 'POST', body: '{}' });
    await this.refresh();
  }

  async unload(): Promise<void> {
    await requestAPI('models/unload', { method: 'POST', body: '{}' });
    await this.refresh();
  }

  dispose(): void {
    this._poll.dispose();
    Signal.clearData(this);
  }

  private async _fetchStatus(): Promise<void> {
    try {
      this._status = await requestAPI<IStatusReply>('status');
      this._error = '';
    } catch (error) {
      this._error = (error as Error).message;
      this._changed.emit();
      throw error; // lets the poll back off while the server does not answer
    }
    const busy = ['downloading', 'loading'].includes(this._status.engine.state);
    if (busy !== this._busy) {
      this._busy = busy;
      this._poll.frequency = this._frequency();
    }
    this._changed.emit();
  }

  private _frequency(): IPoll.Frequency {
    return {
      interval: this._busy ? BUSY_INTERVAL_MS : this._refreshSeconds * 1000,
      backoff: true,
      max: 60 * 1000
    };
  }

  private _status: IStatusReply | null = null;
  private _models: IModelsReply | null = null;
  private _error = '';
  private _busy = false;
  private _refreshSeconds: number;
  private _poll: Poll;
  private _changed = new Signal<this, void>(this);
}
