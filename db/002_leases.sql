-- DHCP leases (full mode). One row per address: an address is offered (held for the client's
-- REQUEST), bound (ACKed until expires_at) or declined (a client saw it in use; kept out of the
-- pool until expires_at). Expired rows stay until purged so a returning MAC gets its old address.
CREATE TABLE leases (
  ip         TEXT    PRIMARY KEY,
  ip_num     INTEGER NOT NULL,        -- for range scans and ordering
  mac        TEXT    NOT NULL,        -- lower-case colon form; '' for declined-by-unknown
  state      TEXT    NOT NULL CHECK (state IN ('offered','bound','declined')),
  expires_at INTEGER NOT NULL,        -- ms since epoch
  updated_at INTEGER NOT NULL,
  hostname   TEXT,
  client_id  TEXT                     -- option 61, hex
);
CREATE INDEX leases_mac ON leases(mac, updated_at);
CREATE INDEX leases_ip_num ON leases(ip_num);
