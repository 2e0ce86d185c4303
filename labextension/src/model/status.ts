import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { completionStatusLine } from '../completion/status';
import { IEngineModel, IStatusReply } from '../tokens';
import { choiceLines } from './describe';
import { stateText } from './header';

/**
 * The status bar item: the model, its state and its device, with the error in the
 * tooltip when the engine failed.
 */
export class EngineStatusItem extends Widget {
  constructor(private readonly trans: TranslationBundle) {
    super({ node: document.createElement('div') });
    this.addClass('jp-AutoCoderStatus');
    this._label = document.createElement('span');
    this._label.className = 'jp-AutoCoderStatus-label';
    this.node.appendChild(this._label);
    this.showUnknown();
  }

  /** Follow the shared engine model (one poll for every view). */
  follow(engine: IEngineModel): void {
    const update = () => {
      if (engine.status && !engine.error) {
        this.showStatus(engine.status);
      } else if (engine.error) {
        this.showUnavailable(engine.error);
      }
    };
    engine.changed.connect(update, this);
    update();
  }

  /** Show a status reply of the server extension. */
  showStatus(reply: IStatusReply): void {
    const engine = reply.engine;
    const parts = [
      engine.model || this.trans.__('no model'),
      this.stateText(reply)
    ];
    if (engine.device) {
      parts.push(engine.device);
    }
    this._label.textContent = `AutoCoder: ${parts.join(' · ')}`;
    this.setState(engine.state);

    const lines = [
      this.trans.__('jupyter-autocoder %1', reply.version),
      this.trans.__('Model: %1', engine.model || '-'),
      this.trans.__('State: %1', engine.state)
    ];
    if (engine.device) {
      lines.push(this.trans.__('Device: %1', engine.device));
    }
    if (engine.n_layers !== null && engine.n_gpu_layers !== null) {
      // A negative count asks for every layer that fits (-1 all, -2 decided by memory).
      const offloaded =
        engine.n_gpu_layers < 0
          ? engine.n_layers
          : Math.min(engine.n_gpu_layers, engine.n_layers);
      lines.push(
        this.trans.__('GPU layers: %1 of %2', offloaded, engine.n_layers)
      );
    }
    if (engine.notice) {
      lines.push(engine.notice);
    }
    lines.push(...choiceLines(engine.choice));
    const completion = engine.model
      ? completionStatusLine(reply.completion, this.trans)
      : null;
    if (completion) {
      // A model without fill-in-the-middle tokens completes by a fallback, or not at all.
      lines.push(completion);
    }
    if (engine.error) {
      lines.push(this.trans.__('Error: %1', engine.error));
    }
    this.node.title = lines.join('\n');
  }

  /** Show that the server extension could not be reached. */
  showUnavailable(message: string): void {
    this._label.textContent = `AutoCoder: ${this.trans.__('unavailable')}`;
    this.setState('failed');
    this.node.title = this.trans.__(
      'The jupyter-autocoder server extension did not answer: %1',
      message
    );
  }

  private showUnknown(): void {
    this._label.textContent = this.trans.__('AutoCoder: …');
    this.setState('unknown');
    this.node.title = this.trans.__('Asking the server for the model status');
  }

  private stateText(reply: IStatusReply): string {
    return stateText(reply.engine, this.trans);
  }

  private setState(state: string): void {
    this.node.dataset.state = state;
  }

  private _label: HTMLSpanElement;
}
