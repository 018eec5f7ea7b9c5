-- textrelay schema 10: submits under way are no longer written down apart.

-- A row of carrier_submissions was written before every live submit and removed with the
-- commit of its answer: a transaction and two writes a message, to cover a crash between the
-- SMSC's answer and that commit. The message itself covers it: it is still `queued` then, and
-- a receipt under the lost reference finds it by its addresses (docs/carriers.md,
-- "Durability"). The count of temporary refusals moved to the dispatch job's payload.
DROP TABLE carrier_submissions;
