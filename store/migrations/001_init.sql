-- Switchboard schema, version 1. Written once for both databases: {{pk}} and
-- {{blob}} are the only words that differ (see dialect.go). Times are Unix
-- microseconds (BIGINT), so that both backends store and compare them alike.

CREATE TABLE users (
    id                   {{pk}},
    email                TEXT NOT NULL UNIQUE,
    name                 TEXT NOT NULL,
    role                 TEXT NOT NULL,
    role_name            TEXT NOT NULL DEFAULT '',
    operator             BOOLEAN NOT NULL DEFAULT FALSE,
    chat_limit           INTEGER NOT NULL DEFAULT 3,
    presence             TEXT NOT NULL DEFAULT 'offline',
    presence_at          BIGINT NOT NULL DEFAULT 0,
    disabled             BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash        TEXT NOT NULL DEFAULT '',
    active_chats         INTEGER NOT NULL DEFAULT 0,
    last_assigned_at     BIGINT NOT NULL DEFAULT 0,
    created_at           BIGINT NOT NULL
);

CREATE TABLE sessions (
    id          {{pk}},
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash  {{blob}} NOT NULL UNIQUE,
    csrf_token  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    seen_at     BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_tokens (
    id          {{pk}},
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    token_hash  {{blob}} NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

CREATE TABLE inboxes (
    id          {{pk}},
    name        TEXT NOT NULL,
    channel     TEXT NOT NULL,
    settings    TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE inbox_members (
    inbox_id    BIGINT NOT NULL REFERENCES inboxes(id) ON DELETE CASCADE,
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (inbox_id, user_id)
);
CREATE INDEX inbox_members_user ON inbox_members(user_id);

CREATE TABLE departments (
    id          {{pk}},
    name        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE department_members (
    department_id BIGINT NOT NULL REFERENCES departments(id) ON DELETE CASCADE,
    user_id       BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (department_id, user_id)
);
CREATE INDEX department_members_user ON department_members(user_id);

CREATE TABLE contacts (
    id          {{pk}},
    name        TEXT NOT NULL DEFAULT '',
    email       TEXT NOT NULL DEFAULT '',
    phone       TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL
);
CREATE INDEX contacts_email ON contacts(email);

CREATE TABLE visitors (
    id          {{pk}},
    contact_id  BIGINT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    token_hash  {{blob}} NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);
CREATE INDEX visitors_contact ON visitors(contact_id);

CREATE TABLE categories (
    id    {{pk}},
    name  TEXT NOT NULL UNIQUE
);

CREATE TABLE conversations (
    id                {{pk}},
    inbox_id          BIGINT NOT NULL REFERENCES inboxes(id),
    contact_id        BIGINT NOT NULL REFERENCES contacts(id),
    channel           TEXT NOT NULL,
    status            TEXT NOT NULL,
    assignee_id       BIGINT REFERENCES users(id),
    department_id     BIGINT REFERENCES departments(id),
    category_id       BIGINT REFERENCES categories(id),
    ticket_status     TEXT NOT NULL DEFAULT '',
    subject           TEXT NOT NULL DEFAULT '',
    last_seq          BIGINT NOT NULL DEFAULT 0,
    internal_seq      BIGINT NOT NULL DEFAULT 0,
    last_preview      TEXT NOT NULL DEFAULT '',
    last_activity_at  BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    ended_at          BIGINT,
    ended_by          TEXT NOT NULL DEFAULT '',
    parent_id         BIGINT REFERENCES conversations(id)
);
-- One live conversation per contact and inbox, enforced by the database (SECURITY rule 9).
CREATE UNIQUE INDEX conversations_one_live ON conversations(inbox_id, contact_id)
    WHERE status NOT IN ('ended', 'failed') AND ticket_status = '';
CREATE INDEX conversations_inbox ON conversations(inbox_id, id);
CREATE INDEX conversations_inbox_status ON conversations(inbox_id, status, id);
CREATE INDEX conversations_assignee ON conversations(assignee_id, status, id);
CREATE INDEX conversations_contact ON conversations(contact_id, id);
CREATE INDEX conversations_ticket ON conversations(ticket_status, inbox_id, id);

CREATE TABLE attachments (
    id               {{pk}},
    conversation_id  BIGINT NOT NULL REFERENCES conversations(id),
    file_name        TEXT NOT NULL,
    content_type     TEXT NOT NULL,
    size             BIGINT NOT NULL,
    storage_key      TEXT NOT NULL UNIQUE,
    uploaded_by      TEXT NOT NULL,
    created_at       BIGINT NOT NULL
);
CREATE INDEX attachments_conversation ON attachments(conversation_id);

CREATE TABLE messages (
    id               {{pk}},
    conversation_id  BIGINT NOT NULL REFERENCES conversations(id),
    thread           TEXT NOT NULL,
    seq              BIGINT NOT NULL,
    sender           TEXT NOT NULL,
    author_id        BIGINT REFERENCES users(id),
    author_name      TEXT NOT NULL DEFAULT '',
    body             TEXT NOT NULL,
    client_id        TEXT,
    attachment_id    BIGINT REFERENCES attachments(id),
    mentions         TEXT NOT NULL DEFAULT '',
    created_at       BIGINT NOT NULL,
    UNIQUE (conversation_id, thread, seq)
);
-- A retried send with the same client id is stored once.
CREATE UNIQUE INDEX messages_client ON messages(conversation_id, client_id) WHERE client_id IS NOT NULL;

CREATE TABLE notes (
    id               {{pk}},
    conversation_id  BIGINT NOT NULL REFERENCES conversations(id),
    author_id        BIGINT NOT NULL REFERENCES users(id),
    body             TEXT NOT NULL,
    created_at       BIGINT NOT NULL
);
CREATE INDEX notes_conversation ON notes(conversation_id, id);

CREATE TABLE canned_responses (
    id          {{pk}},
    owner_id    BIGINT REFERENCES users(id) ON DELETE CASCADE,
    shortcut    TEXT NOT NULL,
    title       TEXT NOT NULL DEFAULT '',
    body        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX canned_responses_shortcut ON canned_responses(COALESCE(owner_id, 0), shortcut);

CREATE TABLE blocks (
    id          {{pk}},
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    created_by  BIGINT NOT NULL REFERENCES users(id),
    created_at  BIGINT NOT NULL,
    UNIQUE (kind, value)
);

-- The append-only record of every state change of a conversation (H2).
CREATE TABLE history (
    id               {{pk}},
    conversation_id  BIGINT NOT NULL REFERENCES conversations(id),
    kind             TEXT NOT NULL,
    actor_id         BIGINT,
    from_status      TEXT NOT NULL DEFAULT '',
    to_status        TEXT NOT NULL DEFAULT '',
    data             TEXT NOT NULL DEFAULT '',
    created_at       BIGINT NOT NULL
);
CREATE INDEX history_conversation ON history(conversation_id, id);

-- The realtime stream: every committed event, in commit order (pos).
CREATE TABLE events (
    pos              {{pk}},
    type             TEXT NOT NULL,
    audience         TEXT NOT NULL,
    inbox_id         BIGINT NOT NULL DEFAULT 0,
    conversation_id  BIGINT NOT NULL DEFAULT 0,
    contact_id       BIGINT NOT NULL DEFAULT 0,
    user_id          BIGINT NOT NULL DEFAULT 0,
    data             TEXT NOT NULL,
    created_at       BIGINT NOT NULL
);
CREATE INDEX events_created ON events(created_at);
