-- Ingest fast path in one call (issue 16, docs/cloud.md "Ingest efficiency", sixth round): ingest_begin() and
-- ingest_finish() (migration 0071) in the first round trip, before the COPY, when the batch's cut is still right.
-- The API filters and scores a batch against the high-water mark it last saw for the robot; if the locked mark still
-- cuts the batch at the same place (p_low <= mark < p_first: no seq of the batch lies between the two marks), the
-- rows to COPY are exactly the ones the API prepared, so the newest event per channel, the safety events and the new
-- mark can be recorded at once, and the transaction is COPY + COMMIT after it. Otherwise nothing but ingest_begin()
-- ran (new_hwm NULL): the API re-filters against the returned mark and finishes as before (COPY, ingest_finish()).
-- Same transaction, same locks, same roles: exactly-once is unchanged (the mark is locked before anything is
-- written and moved in the same transaction as the rows).
CREATE FUNCTION ingest_once(p_robot text, p_nonce text, p_low bigint, p_first bigint,
                            p_accepted integer, p_max_seq bigint,
                            p_l_seq bigint[], p_l_ts float8[], p_l_channel smallint[], p_l_payload text[],
                            p_l_score real[], p_stats jsonb,
                            p_s_seq bigint[], p_s_ts float8[], p_s_payload text[], p_traceparent text)
RETURNS TABLE (hwm bigint, new_hwm bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_hwm bigint;
BEGIN
    SELECT b.hwm INTO v_hwm FROM ingest_begin(p_robot, p_nonce) AS b;
    IF (p_low IS NOT NULL AND v_hwm < p_low) OR v_hwm >= p_first THEN
        RETURN QUERY SELECT v_hwm, NULL::bigint;  -- the mark moved across the batch: the caller re-filters
        RETURN;
    END IF;
    RETURN QUERY SELECT v_hwm, ingest_finish(p_robot, p_accepted, p_max_seq, p_l_seq, p_l_ts, p_l_channel,
                                             p_l_payload, p_l_score, p_stats, p_s_seq, p_s_ts, p_s_payload,
                                             p_traceparent);
END $$;

REVOKE EXECUTE ON FUNCTION ingest_once(text, text, bigint, bigint, integer, bigint, bigint[], float8[], smallint[],
                                       text[], real[], jsonb, bigint[], float8[], text[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest_once(text, text, bigint, bigint, integer, bigint, bigint[], float8[], smallint[],
                                      text[], real[], jsonb, bigint[], float8[], text[], text) TO sigma_device;
