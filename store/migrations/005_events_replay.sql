-- Resuming a visitor reads only its own contact's events (store.EventsFor):
-- without this index a visitor far behind made the server read every event
-- committed since (BENCHMARKS.md, finding 4). Staff events carry no contact.
CREATE INDEX events_contact ON events(contact_id, pos) WHERE contact_id <> 0;
