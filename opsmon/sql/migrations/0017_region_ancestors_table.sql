-- region_ancestors becomes a table, kept by a trigger on regions (which change only when a
-- hierarchy is loaded). As a recursive view the planner could not estimate it: a national
-- query joining it to the hospitals' values by province (31 regions × 24 months) was planned as a
-- nested loop that compared 85 million row pairs — 10 s, cut off by the 5 s statement timeout.
-- The table has the view's columns and rows: every region with each of its ancestors along the
-- reporting hierarchy (depth 0 = itself), so a roll-up to any level is one join.
DROP VIEW region_ancestors;

CREATE TABLE region_ancestors (
    adcode          char(6) NOT NULL,
    ancestor_adcode char(6) NOT NULL,
    depth           int  NOT NULL CHECK (depth >= 0),
    PRIMARY KEY (ancestor_adcode, adcode)
);
CREATE INDEX region_ancestors_adcode_idx ON region_ancestors (adcode);

-- One statement fills it, from the trigger and once here for the regions already loaded.
CREATE FUNCTION region_ancestors_fill() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM region_ancestors;
    INSERT INTO region_ancestors (adcode, ancestor_adcode, depth)
    WITH RECURSIVE up (adcode, ancestor_adcode, depth) AS (
        SELECT adcode, adcode, 0 FROM regions
        UNION ALL
        SELECT up.adcode, r.parent_adcode, up.depth + 1
        FROM up JOIN regions r ON r.adcode = up.ancestor_adcode
        WHERE r.parent_adcode IS NOT NULL
    )
    SELECT adcode, ancestor_adcode, depth FROM up;
    ANALYZE region_ancestors;  -- the planner's estimates are why this is a table
END $$;

CREATE FUNCTION region_ancestors_rebuild() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM region_ancestors_fill();
    RETURN NULL;
END $$;

CREATE TRIGGER regions_ancestors AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON regions
    FOR EACH STATEMENT EXECUTE FUNCTION region_ancestors_rebuild();

SELECT region_ancestors_fill();
