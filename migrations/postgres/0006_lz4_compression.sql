-- The mirror's JSON columns compress with lz4 instead of the default pglz.
--
-- Why: an employee's row carries its unified data and the tool's raw payload (`remote_data`,
-- ~4 KB for Personio), so nearly every write compresses it, and in the ingest profile pglz was
-- about 13 % of the server's CPU. lz4 compresses several times faster (for slightly larger
-- values): COPY of the same 30,364 mirror rows into a table like `records` took 1.34 s with
-- pglz and 1.02–1.15 s with lz4 on the benchmark machine. Reads decompress faster too.
--
-- Only values written from now on use lz4; existing ones stay pglz until rewritten, and both
-- are read transparently. A server built without lz4 (or older than PostgreSQL 14) refuses the
-- setting: the migration then keeps pglz and says so, rather than failing.
DO $$
BEGIN
  EXECUTE 'ALTER TABLE records ALTER COLUMN data SET COMPRESSION lz4, '
       || 'ALTER COLUMN remote_data SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported OR syntax_error OR invalid_parameter_value THEN
  RAISE NOTICE 'lz4 compression is not available (%); records keep pglz', SQLERRM;
END
$$;
