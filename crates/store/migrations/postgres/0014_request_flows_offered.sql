-- When a request's submission was offered to the flows with request triggers (NULL until then): the flow
-- worker offers again the requests a dying process stored but did not offer, and never those offered before
-- a flow file was added (a new flow does not start for old requests). Requests stored before this column
-- existed count as offered.
ALTER TABLE access_requests ADD COLUMN flows_offered_ms BIGINT;
UPDATE access_requests SET flows_offered_ms = created_ms;
