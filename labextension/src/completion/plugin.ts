import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICompletionProviderManager } from '@jupyterlab/completer';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';

import { CommandIDs, TRANSLATION_DOMAIN } from '../tokens';
import { nextWord } from './ghost';
import {
  AutoCoderInlineProvider,
  DEFAULT_COMPLETION_SETTINGS,
  ICompletionSettings
} from './provider';

/** The id of this plugin, also the name of its settings schema (schema/completion.json). */
export const COMPLETION_PLUGIN_ID = 'jupyter-autocoder:completion';

/**
 * Inline completion: ghost text from the server's model in every code cell, console and
 * code file, through JupyterLab's inline completer (Tab accepts, Alt+\ asks on demand).
 */
export const completionPlugin: JupyterFrontEndPlugin<void> = {
  id: COMPLETION_PLUGIN_ID,
  description: 'Inline completions (ghost text) from the AutoCoder model.',
  autoStart: true,
  requires: [ICompletionProviderManager],
  optional: [ISettingRegistry, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    manager: ICompletionProviderManager,
    registry: ISettingRegistry | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const provider = new AutoCoderInlineProvider();
    manager.registerInlineProvider(provider);
    if (registry) {
      registry
        .load(COMPLETION_PLUGIN_ID)
        .then(settings => {
          const apply = () => {
            provider.settings = readCompletionSettings(settings);
          };
          apply();
          settings.changed.connect(apply);
        })
        .catch(reason => {
          console.warn(
            'jupyter-autocoder: cannot load the completion settings',
            reason
          );
        });
    }
    app.commands.addCommand(CommandIDs.acceptWord, {
      label: trans.__('Accept the Next Word of the AutoCoder Completion'),
      describedBy: { args: { type: 'object', properties: {} } },
      execute: () => {
        const editor =
          (app.shell.currentWidget as any)?.content?.activeCell?.editor ??
          (app.shell.currentWidget as any)?.content?.editor;
        if (!editor) {
          return;
        }
        const text = editor.model.sharedModel.getSource();
        const offset = editor.getOffsetAt(editor.getCursorPosition());
        const word = nextWord(provider.shown, text, offset);
        if (word) {
          // Typed as the user would: the inline completer keeps the rest as ghost text.
          editor.replaceSelection?.(word);
        }
      }
    });
    document.addEventListener(
      'keydown',
      event => acceptWordFirst(app.commands, event),
      true
    );
  }
};

/**
 * The editor (CodeMirror) moves the cursor by a word on Ctrl+ArrowRight and marks the key
 * as handled before JupyterLab's shortcuts see it, so while ghost text is shown the keys
 * bound to the accept-word command (Ctrl ArrowRight by default, or the user's own) are
 * taken here first, in the capture phase.
 */
function acceptWordFirst(
  commands: CommandRegistry,
  event: KeyboardEvent
): void {
  const target = event.target as Element | null;
  if (!target?.closest || event.defaultPrevented) {
    return;
  }
  const keystroke = CommandRegistry.keystrokeForKeydownEvent(event);
  const binding = commands.keyBindings.find(
    binding =>
      binding.command === CommandIDs.acceptWord &&
      binding.keys.length === 1 &&
      binding.keys[0] === keystroke &&
      target.closest(binding.selector) !== null
  );
  if (binding) {
    event.preventDefault();
    event.stopPropagation();
    void commands.execute(CommandIDs.acceptWord);
  }
}

/** The settings of schema/completion.json; a missing one takes its default. */
export function readCompletionSettings(
  settings: ISettingRegistry.ISettings
): ICompletionSettings {
  const value = <T>(name: keyof ICompletionSettings): T =>
    (settings.get(name).composite ?? DEFAULT_COMPLETION_SETTINGS[name]) as T;
  return {
    enabled: value<boolean>('enabled'),
    trigger: value<'automatic' | 'manual'>('trigger'),
    debounceMs: value<number>('debounceMs'),
    maxPrefixChars: value<number>('maxPrefixChars'),
    maxSuffixChars: value<number>('maxSuffixChars'),
    maxLines: value<number>('maxLines'),
    skipLanguages: value<string[]>('skipLanguages')
  };
}
