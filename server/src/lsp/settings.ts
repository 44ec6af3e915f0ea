import { MessageType, ShowMessageNotification, type Connection } from 'vscode-languageserver/node';
import { DEFAULT_SETTINGS, parseSettings, SETTINGS_SECTION, type Settings } from '../settings';

/**
 * The settings in force, pulled with `workspace/configuration` (or taken from a pushed
 * `didChangeConfiguration` when the client cannot be asked). Bad values fall back to defaults and
 * are reported once as a warning.
 */
export class SettingsStore {
  private value: Settings = DEFAULT_SETTINGS;
  private reported = '';
  canPull = false;

  constructor(private readonly connection: Connection) {}

  get current(): Settings {
    return this.value;
  }

  /** Reloads the settings; true when they changed. `pushed` is a didChangeConfiguration payload. */
  async refresh(pushed?: unknown): Promise<boolean> {
    let raw: unknown;
    if (this.canPull) {
      try {
        raw = await this.connection.workspace.getConfiguration(SETTINGS_SECTION);
      } catch (e) {
        this.connection.console.warn(`could not read the ${SETTINGS_SECTION} settings: ${(e as Error).message}`);
        return false;
      }
    } else {
      const p = pushed as { settings?: Record<string, unknown> } | undefined;
      if (!p?.settings || !(SETTINGS_SECTION in p.settings)) return false;
      raw = p.settings[SETTINGS_SECTION];
    }
    const { settings, problems } = parseSettings(raw);
    const key = problems.join('\n');
    if (problems.length && key !== this.reported) {
      void this.connection.sendNotification(ShowMessageNotification.type, { type: MessageType.Warning, message: `Prompt Contracts: invalid settings, defaults used instead: ${problems.join('; ')}` });
    }
    this.reported = key;
    const changed = JSON.stringify(settings) !== JSON.stringify(this.value);
    this.value = settings;
    return changed;
  }
}
