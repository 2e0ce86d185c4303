import { Dialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import {
  ICatalogueModel,
  IEngineModel,
  IEngineStatus,
  IPanelSettings
} from '../tokens';
import { choiceLines, downloadText, formatBytes } from './describe';
import { modelBlocked, policyNotes } from './policy';

/**
 * The panel's header: the model (a picker to switch), the device it runs on with the
 * layers offloaded, and its state: downloading with a progress bar, loading, ready,
 * failed with the reason, or a remote engine that does not answer. What the admin's
 * policy sets is said under it, and the models it forbids are disabled in the picker.
 * Its tooltip says what `auto` picked and why; a download says its size from the start,
 * with a Cancel button.
 */
export class EngineHeader extends Widget {
  constructor(
    private readonly engine: IEngineModel,
    private readonly trans: TranslationBundle,
    private readonly settings: () => IPanelSettings | null = () => null
  ) {
    super();
    this.addClass('jp-AutoCoder-header');

    const row = document.createElement('div');
    row.className = 'jp-AutoCoder-headerRow';
    this._dot = document.createElement('span');
    this._dot.className = 'jp-AutoCoder-stateDot';
    this._dot.setAttribute('aria-hidden', 'true');
    this._picker = document.createElement('select');
    this._picker.className = 'jp-AutoCoder-modelPicker jp-mod-styled';
    this._picker.setAttribute('aria-label', trans.__('Model'));
    this._picker.addEventListener('change', () => void this._onPick());
    this._picker.addEventListener('focus', () => {
      void this.engine.refreshModels().catch(() => undefined);
    });
    this._device = document.createElement('span');
    this._device.className = 'jp-AutoCoder-device';
    this._state = document.createElement('span');
    this._state.className = 'jp-AutoCoder-state';
    this._state.setAttribute('role', 'status');
    row.append(this._dot, this._picker, this._state);
    // The device on a line of its own: "CUDA · 33/33 layers" is never cut.
    this._device.setAttribute('aria-label', trans.__('Device'));
    this.node.append(row, this._device);

    // Always there (the header keeps its height); visible while downloading or loading.
    this._progress = document.createElement('div');
    this._progress.className = 'jp-AutoCoder-progress';
    this._progress.setAttribute('role', 'progressbar');
    this._progress.setAttribute('aria-label', trans.__('Model progress'));
    this._bar = document.createElement('div');
    this._bar.className = 'jp-AutoCoder-progressBar';
    this._progress.appendChild(this._bar);
    this.node.appendChild(this._progress);

    this._problem = document.createElement('div');
    this._problem.className = 'jp-AutoCoder-engineError';
    this._problem.setAttribute('role', 'alert');
    this._problemText = document.createElement('span');
    this._retry = document.createElement('button');
    this._retry.type = 'button';
    this._retry.className = 'jp-AutoCoder-button';
    this._retry.textContent = trans.__('Retry');
    this._retry.addEventListener('click', () => {
      void this.engine.load().catch(error => this._showActionError(error));
    });
    this._problem.append(this._problemText, this._retry);
    this.node.appendChild(this._problem);

    this._policy = document.createElement('div');
    this._policy.className = 'jp-AutoCoder-policy';
    this._policy.setAttribute('role', 'note');
    this._policy.setAttribute('aria-label', trans.__('Set by the admin'));
    this.node.appendChild(this._policy);
    // A download, said with its size before the first byte: Cancel stops it (after a
    // cancel, Download starts it again).
    this._download = document.createElement('div');
    this._download.className = 'jp-AutoCoder-download';
    this._download.setAttribute('role', 'status');
    this._downloadText = document.createElement('span');
    this._downloadButton = document.createElement('button');
    this._downloadButton.type = 'button';
    this._downloadButton.className = 'jp-AutoCoder-button';
    this._downloadButton.addEventListener(
      'click',
      () => void this._onDownloadButton()
    );
    this._download.append(this._downloadText, this._downloadButton);
    this.node.appendChild(this._download);

    // What the user must know of the model (the last resort is weak), in plain sight.
    this._notice = document.createElement('div');
    this._notice.className = 'jp-AutoCoder-engineNotice';
    this.node.appendChild(this._notice);

    engine.changed.connect(this._update, this);
    this._update();
  }

  dispose(): void {
    this.engine.changed.disconnect(this._update, this);
    super.dispose();
  }

  /** The user's settings changed: say again where the policy overrides them. */
  settingsChanged(): void {
    this._update();
  }

  private _update(): void {
    const trans = this.trans;
    const reply = this.engine.status;
    if (!reply) {
      const unreachable = this.engine.error;
      this.node.dataset.state = unreachable ? 'failed' : 'unknown';
      this._state.textContent = unreachable
        ? trans.__('server unavailable')
        : trans.__('asking the server…');
      this._device.textContent = '';
      this.node.title = '';
      this._showDownload(null);
      this._notice.hidden = true;
      this._showProblem(
        unreachable
          ? trans.__(
              'The AutoCoder server extension did not answer: %1',
              unreachable
            )
          : '',
        false
      );
      this._setProgress(null);
      this._fillPicker(null);
      this._showPolicy();
      return;
    }
    const engine = reply.engine;
    this.node.dataset.state = engine.state;
    const progress = engine.progress;
    this._device.textContent =
      engine.state === 'downloading' && progress?.total
        ? trans.__(
            '%1 of %2',
            formatBytes(progress.done),
            formatBytes(progress.total)
          )
        : deviceText(engine, trans);
    this.node.title = deviceTitle(engine, trans);
    this._state.textContent = stateText(engine, trans);
    this._showDownload(engine);
    this._notice.textContent = engine.notice ?? '';
    this._notice.hidden = !engine.notice;
    this._fillPicker(engine);
    if (engine.state === 'downloading' && engine.progress?.total) {
      this._setProgress(engine.progress.done / engine.progress.total);
    } else if (engine.state === 'downloading' || engine.state === 'loading') {
      this._setProgress('indeterminate');
    } else {
      this._setProgress(null);
    }
    this._showPolicy();
    if (engine.state === 'unreachable') {
      this._showProblem(
        trans.__(
          'The remote engine does not answer: %1',
          engine.error || trans.__('no reason given')
        ),
        false
      );
    } else if (engine.state === 'failed') {
      this._showProblem(
        trans.__(
          'The model failed: %1',
          engine.error || trans.__('no reason given')
        ),
        engine.device !== 'remote'
      );
    } else if (this.engine.error) {
      this._showProblem(
        trans.__('The server did not answer: %1', this.engine.error),
        false
      );
    } else {
      this._showProblem(this._actionError, false);
    }
  }

  private _showPolicy(): void {
    const policy =
      this.engine.status?.policy ?? this.engine.models?.policy ?? null;
    const notes = policyNotes(policy, this.settings(), this.trans);
    this._policy.hidden = notes.length === 0;
    this._policy.textContent = '';
    if (notes.length === 0) {
      return;
    }
    const title = document.createElement('span');
    title.className = 'jp-AutoCoder-policyTitle';
    title.textContent = this.trans.__('Set by the admin:');
    const list = document.createElement('ul');
    for (const note of notes) {
      const item = document.createElement('li');
      item.textContent = note;
      list.appendChild(item);
    }
    this._policy.append(title, list);
  }

  private _fillPicker(engine: IEngineStatus | null): void {
    const models = this.engine.models;
    const policy = this.engine.status?.policy ?? models?.policy ?? null;
    const current = engine?.model ?? '';
    const names: {
      name: string;
      label: string;
      model?: ICatalogueModel;
      blocked?: string;
    }[] = (models?.models ?? []).map(model => {
      const blocked = modelBlocked(model, policy, this.trans);
      let label = model.name;
      if (blocked && model.allowed === false) {
        label = this.trans.__('%1 (not allowed)', model.name);
      } else if (blocked) {
        label = this.trans.__('%1 (not here)', model.name);
      } else if (!model.cached) {
        label = this.trans.__(
          '%1 (download %2)',
          model.name,
          formatBytes(model.size_bytes)
        );
      }
      return { name: model.name, label, model, blocked };
    });
    if (current && !names.some(item => item.name === current)) {
      names.unshift({ name: current, label: shortName(current) });
    }
    const signature = JSON.stringify(names.map(item => item.label)) + current;
    if (signature !== this._pickerSignature) {
      this._pickerSignature = signature;
      this._picker.textContent = '';
      for (const item of names) {
        const option = document.createElement('option');
        option.value = item.name;
        option.textContent = item.label;
        option.title = item.blocked || (item.model?.description ?? item.name);
        // The current model stays selectable, even when the policy names others.
        option.disabled = !!item.blocked && item.name !== current;
        this._picker.appendChild(option);
      }
      this._picker.value = current;
    }
    const remote = engine?.device === 'remote' || models?.remote === true;
    const busy = engine?.state === 'downloading' || engine?.state === 'loading';
    this._picker.disabled = !engine || remote || busy || this._switching;
    this._picker.title = remote
      ? this.trans.__('A remote engine: its models are chosen there')
      : this.trans.__('Switch the model');
  }

  private async _onPick(): Promise<void> {
    const name = this._picker.value;
    const current = this.engine.status?.engine.model ?? '';
    if (!name || name === current) {
      return;
    }
    const model = this.engine.models?.models.find(item => item.name === name);
    if (model && !model.cached) {
      const result = await showDialog({
        title: this.trans.__('Download %1?', name),
        body: this.trans.__(
          '%1 is not on this machine yet. Download it (%2) and switch to it?',
          name,
          formatBytes(model.size_bytes)
        ),
        buttons: [
          Dialog.cancelButton({ label: this.trans.__('Cancel') }),
          Dialog.okButton({ label: this.trans.__('Download and switch') })
        ]
      });
      if (!result.button.accept) {
        this._picker.value = current;
        return;
      }
    }
    this._switching = true;
    this._actionError = '';
    this._update();
    try {
      await this.engine.switchModel(name);
    } catch (error) {
      this._showActionError(error);
    } finally {
      this._switching = false;
      this._pickerSignature = '';
      this._update();
    }
  }

  private _showActionError(error: unknown): void {
    this._actionError = this.trans.__(
      'The model could not be switched: %1',
      (error as Error).message ?? String(error)
    );
    this._update();
  }

  private _showDownload(engine: IEngineStatus | null): void {
    const text = engine ? downloadText(engine, this.trans) : null;
    this._download.hidden = !text;
    this._downloadText.textContent = text ?? '';
    const downloading = engine?.state === 'downloading';
    this._downloadButton.textContent = downloading
      ? this.trans.__('Cancel')
      : this.trans.__('Download');
    this._downloadButton.title = downloading
      ? this.trans.__('Stop the download (the model is not loaded)')
      : this.trans.__('Download the model and load it');
    this._downloadButton.disabled = this._cancelling;
  }

  private async _onDownloadButton(): Promise<void> {
    const downloading = this.engine.status?.engine.state === 'downloading';
    this._cancelling = true;
    this._update();
    try {
      await (downloading ? this.engine.unload() : this.engine.load());
    } catch (error) {
      this._actionError = this.trans.__(
        'The download could not be %1: %2',
        downloading ? this.trans.__('cancelled') : this.trans.__('started'),
        (error as Error).message ?? String(error)
      );
    } finally {
      this._cancelling = false;
      this._update();
    }
  }

  private _showProblem(text: string, retry: boolean): void {
    this._problemText.textContent = text;
    this._problem.hidden = !text;
    this._retry.hidden = !retry;
  }

  private _setProgress(value: number | 'indeterminate' | null): void {
    this._progress.dataset.mode =
      value === null
        ? 'idle'
        : value === 'indeterminate'
          ? 'indeterminate'
          : 'determinate';
    if (typeof value === 'number') {
      const percent = Math.round(Math.max(0, Math.min(1, value)) * 100);
      this._bar.style.width = `${percent}%`;
      this._progress.setAttribute('aria-valuenow', String(percent));
      this._progress.setAttribute('aria-valuemin', '0');
      this._progress.setAttribute('aria-valuemax', '100');
    } else {
      this._bar.style.width = '';
      this._progress.removeAttribute('aria-valuenow');
    }
  }

  private _dot: HTMLSpanElement;
  private _picker: HTMLSelectElement;
  private _device: HTMLSpanElement;
  private _state: HTMLSpanElement;
  private _progress: HTMLDivElement;
  private _bar: HTMLDivElement;
  private _problem: HTMLDivElement;
  private _problemText: HTMLSpanElement;
  private _retry: HTMLButtonElement;
  private _policy: HTMLDivElement;
  private _download: HTMLDivElement;
  private _downloadText: HTMLSpanElement;
  private _downloadButton: HTMLButtonElement;
  private _notice: HTMLDivElement;
  private _cancelling = false;
  private _pickerSignature = '';
  private _switching = false;
  private _actionError = '';
}

const DEVICE_NAMES: Record<string, string> = {
  cpu: 'CPU',
  cuda: 'CUDA',
  metal: 'Metal',
  remote: 'remote engine'
};

/** "CPU", "CUDA · 33/33 layers", "Metal · 20/32 layers", "remote engine". */
export function deviceText(
  engine: IEngineStatus,
  trans: TranslationBundle
): string {
  if (!engine.device) {
    return '';
  }
  const name = DEVICE_NAMES[engine.device] ?? engine.device;
  const offloaded = offloadedLayers(engine);
  if (
    offloaded !== null &&
    engine.device !== 'cpu' &&
    engine.device !== 'remote'
  ) {
    return trans.__('%1 · %2/%3 layers', name, offloaded, engine.n_layers);
  }
  return name;
}

function deviceTitle(engine: IEngineStatus, trans: TranslationBundle): string {
  const lines = [trans.__('Device: %1', engine.device ?? '-')];
  const offloaded = offloadedLayers(engine);
  if (offloaded !== null) {
    lines.push(
      trans.__('Layers on the GPU: %1 of %2', offloaded, engine.n_layers)
    );
  }
  if (engine.n_ctx) {
    lines.push(trans.__('Context: %1 tokens', engine.n_ctx));
  }
  if (engine.path) {
    lines.push(engine.path);
  }
  if (engine.notice) {
    lines.push(engine.notice);
  }
  lines.push(...choiceLines(engine.choice));
  return lines.join('\n');
}

function offloadedLayers(engine: IEngineStatus): number | null {
  if (engine.n_layers === null || engine.n_gpu_layers === null) {
    return null;
  }
  return engine.n_gpu_layers < 0
    ? engine.n_layers
    : Math.min(engine.n_gpu_layers, engine.n_layers);
}

export function stateText(
  engine: IEngineStatus,
  trans: TranslationBundle
): string {
  switch (engine.state) {
    case 'downloading': {
      const progress = engine.progress;
      if (progress && progress.total > 0) {
        return trans.__(
          'downloading %1%',
          Math.floor((100 * progress.done) / progress.total)
        );
      }
      return trans.__('downloading…');
    }
    case 'loading':
      return trans.__('loading…');
    case 'ready':
      return trans.__('ready');
    case 'failed':
      return trans.__('failed');
    case 'unreachable':
      return trans.__('unreachable');
    case 'stopped':
      return trans.__('not loaded');
    default:
      return engine.state;
  }
}

/** A model path shown by its file name. */
function shortName(model: string): string {
  const parts = model.split(/[\\/]/);
  return parts[parts.length - 1] || model;
}
