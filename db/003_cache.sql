-- Package cache index. One row per file on disk under cache.dir/<repo>/<path>. Immutable
-- files (pool/, by-hash/) are evicted least-recently-used first when the cache is over its
-- size limit; index files are revalidated with upstream after cache.indexFreshSeconds.
CREATE TABLE cache_files (
  repo          TEXT    NOT NULL,
  path          TEXT    NOT NULL,
  kind          TEXT    NOT NULL CHECK (kind IN ('immutable','index')),
  size          INTEGER NOT NULL,
  sha256        TEXT    NOT NULL,
  etag          TEXT,               -- upstream validators, sent on revalidation
  last_modified TEXT,
  validated_at  INTEGER NOT NULL,   -- ms since epoch: last 200/304 from upstream
  last_access   INTEGER NOT NULL,   -- ms since epoch: LRU order
  PRIMARY KEY (repo, path)
);
CREATE INDEX cache_files_lru ON cache_files(kind, last_access);

-- SHA256/size of pool files as announced by the Packages indexes the cache has passed
-- through; a download that does not match is never committed.
CREATE TABLE cache_known (
  repo   TEXT    NOT NULL,
  path   TEXT    NOT NULL,
  sha256 TEXT    NOT NULL,
  size   INTEGER NOT NULL,
  PRIMARY KEY (repo, path)
);
