/*
Package tunnel reaches a PostgreSQL server that listens only on its own host, through an SSH
local forward made in-process with golang.org/x/crypto/ssh: no ssh process and no local port.
Open logs in to the SSH server (a key file, then an ssh-agent's keys, then a password) after
checking its host key against an OpenSSH known_hosts file; each connection that
Tunnel.DialContext makes is then a channel of that one SSH connection. Keepalives find a dead
connection and the next dial replaces it. An unknown host key is refused with its fingerprint
and the known_hosts line to add (ErrHostKeyUnknown), another key than the listed one loudly
(ErrHostKeyChanged). The package knows nothing of Mastodon or of the database it carries, and
catalog knows nothing of SSH: catalog sees only a DialFunc (DialContext) and errors that say
through a method ConnectionError() bool whether reconnecting may help, so each side can be
tested and changed without the other.
*/
package tunnel
