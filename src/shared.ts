// Names shared by the workflow, the worker, the CLI and the dev environment.
// Importable from workflow code: depends only on @temporalio/common.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const DEFAULT_TASK_QUEUE = 'btcbot-cycles';
export const DEFAULT_NAMESPACE = 'default';
export const WORKFLOW_ID_PREFIX = 'cycle-';

/** Custom search attributes on every cycle, so the Temporal UI can filter by them. */
export const SA_MODE = defineSearchAttributeKey('BtcbotMode', SearchAttributeType.KEYWORD);
export const SA_OUTCOME = defineSearchAttributeKey('BtcbotOutcome', SearchAttributeType.KEYWORD);
export const SA_SYMBOLS = defineSearchAttributeKey('BtcbotSymbols', SearchAttributeType.KEYWORD_LIST);

export const SEARCH_ATTRIBUTES = [SA_MODE, SA_OUTCOME, SA_SYMBOLS] as const;

/** The CLI `--search-attribute Name=Type` spelling of each key. */
export function searchAttributeCliArgs(): string[] {
  const cliType: Record<string, string> = {
    [SearchAttributeType.KEYWORD]: 'Keyword',
    [SearchAttributeType.KEYWORD_LIST]: 'KeywordList',
  };
  return SEARCH_ATTRIBUTES.flatMap((k) => ['--search-attribute', `${k.name}=${cliType[k.type]}`]);
}

/** Activity failures that retrying cannot fix (matched by error class name): wrong configuration,
 *  closed gates, broken books, corrupt rows. */
export const NON_RETRYABLE_ERROR_TYPES = [
  'GateClosedError', 'ConfigError', 'AccountingIntegrityError', 'IllegalTransitionError', 'CorruptRowError',
  'ConstraintViolationError', 'DuplicateClientOrderIdError', 'ExchangeConfigError', 'AuthenticationError',
];

/** Activities heartbeat from their work, at least every second while they wait (src/progress.ts): a
 *  dead worker's activity moves on after this. */
export const ACTIVITY_HEARTBEAT_TIMEOUT = '10s';
