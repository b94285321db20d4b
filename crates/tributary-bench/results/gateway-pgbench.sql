-- The statements tributary's gateway ran for one request, captured from the server log.
SELECT id, environment, label, created_at, revoked_at FROM api_keys WHERE key_hash = '\xb185607770ff4124decba43bb7ee889ec282011726abdc21fadb8b0f974ddfbc' AND revoked_at IS NULL;
BEGIN;
SELECT set_config('statement_timeout', '10000', true);
SELECT set_config('plan_cache_mode', 'force_custom_plan', true), pg_advisory_xact_lock_shared('2340020389698722769');
SELECT id, (SELECT p.body FROM rendered p WHERE p.integration_id = records.integration_id AND p.id = records.id AND p.scope_version = '1') AS body FROM records WHERE integration_id = 'personio:bench' AND model = 'employees' AND (NULL IS NULL OR updated_at > NULL) AND ('f' OR remote_deleted_at IS NULL) AND (NULL IS NULL OR id = ANY(NULL)) AND (NULL IS NULL OR remote_id = ANY(NULL)) AND (NULL IS NULL OR id > NULL) AND (NULL IS NULL OR remote_created_at >= NULL) AND '[]'::jsonb = '[]'::jsonb ORDER BY id LIMIT '101';
COMMIT;
SELECT id, tool, environment, base_url, scope_config, scope_version, fence, created_at FROM integrations WHERE id = 'personio:bench';
