-- Phone blocks are stored normalised (sb.NormalizePhone), so that one number
-- written several ways is one block and the lookup of a sender stays a
-- lookup of the blocks(kind, value) index. This rewrites the phone blocks
-- stored before: the same steps as NormalizePhone, in SQL both databases
-- speak. Blocks that become the same number are merged into the oldest.
-- A value that is no phone number at all stays as it was: it matches no
-- sender, and an admin can still see and lift it. (Tabs and non-breaking
-- spaces inside a value, which no form produced, are not removed here.)

CREATE TEMPORARY TABLE phone_blocks AS SELECT id, value FROM blocks WHERE kind = 'phone';

-- "+44 (0)20…": the trunk "(0)" after a country code goes.
UPDATE phone_blocks SET value = REPLACE(value, '(0)', '') WHERE value LIKE '+%' OR value LIKE '00%';

UPDATE phone_blocks SET value = REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(value, ' ', ''), '-', ''), '.', ''), '(', ''), ')', '');

-- The international "00" prefix is "+".
UPDATE phone_blocks SET value = '+' || SUBSTR(value, 3) WHERE value LIKE '00%';

-- What is not 3 to 15 digits after an optional "+" is no phone number: left alone.
DELETE FROM phone_blocks
    WHERE LTRIM(SUBSTR(value, CASE WHEN value LIKE '+%' THEN 2 ELSE 1 END), '0123456789') <> ''
    OR (LENGTH(value) - CASE WHEN value LIKE '+%' THEN 1 ELSE 0 END) NOT BETWEEN 3 AND 15;

DELETE FROM blocks WHERE id IN (
    SELECT p.id FROM phone_blocks p WHERE EXISTS (SELECT 1 FROM phone_blocks q WHERE q.value = p.value AND q.id < p.id));

UPDATE blocks SET value = (SELECT p.value FROM phone_blocks p WHERE p.id = blocks.id)
    WHERE kind = 'phone' AND id IN (SELECT id FROM phone_blocks);

DROP TABLE phone_blocks;
