/**
 * A notebook whose history the server could not read: the conversation keeps the server's
 * word for it (what happened, where the old file was kept) until the history is read
 * again or cleared (chat/conversation.ts).
 */
import { Conversation, ConversationChange } from '../chat/conversation';

const UNREADABLE = {
  message:
    'The history of this notebook could not be read (not JSON: Expecting value at line 1); ' +
    'the old file was kept as /data/sessions/ab12.json.unreadable-1767225600.',
  kept_as: '/data/sessions/ab12.json.unreadable-1767225600'
};

describe('a history the server could not read', () => {
  it('is said, with where the old file was kept', () => {
    const conversation = new Conversation('broken.ipynb');
    const changes: ConversationChange[] = [];
    conversation.changed.connect((_, change) => changes.push(change));

    conversation.loadHistory([], false, UNREADABLE);

    expect(conversation.historyNotice).toBe(UNREADABLE.message);
    expect(conversation.historyNotice).toContain(UNREADABLE.kept_as);
    expect(conversation.turns).toEqual([]);
    expect(changes).toEqual([{ kind: 'reset' }]);
  });

  it('is no longer said once a history is read, or after a reset', () => {
    const conversation = new Conversation('broken.ipynb');
    conversation.loadHistory([], false, UNREADABLE);
    conversation.loadHistory([], false);
    expect(conversation.historyNotice).toBeNull();

    conversation.loadHistory([], false, UNREADABLE);
    conversation.clear();
    expect(conversation.historyNotice).toBeNull();
  });
});
