-- Package cache verification chain and crash consistency (see docs/cache.md).
-- cache_files.mtime: the file's mtime (ms) as committed; a file whose fstat does not match its
-- row (size or mtime) was replaced behind the row's back and is fetched again.
ALTER TABLE cache_files ADD COLUMN mtime INTEGER;
-- cache_known now holds every digest the cache learnt from a signing index: Release/InRelease
-- (index files), Packages (pool files), repomd.xml (repodata), primary.xml (.rpm), .treeinfo
-- (installer images). src = the index that listed the row, gen = when (ms); a re-read index
-- deletes its own rows it no longer lists (src, gen < now). size -1 = unknown.
ALTER TABLE cache_known ADD COLUMN algo TEXT NOT NULL DEFAULT 'sha256';
ALTER TABLE cache_known ADD COLUMN src TEXT NOT NULL DEFAULT '';
ALTER TABLE cache_known ADD COLUMN gen INTEGER NOT NULL DEFAULT 0;
CREATE INDEX cache_known_src ON cache_known(repo, src, gen);
