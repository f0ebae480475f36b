#!/usr/bin/env bash
# Makes sure PostgreSQL (127.0.0.1:5432, db `test`) and MariaDB (127.0.0.1:3306, db `test`) run
# on loopback for the run store's dialect tests. Starts them when they are installed but stopped.
set -uo pipefail
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
fi
if ! mysqladmin -h 127.0.0.1 -u root status >/dev/null 2>&1; then
  if [ -x /usr/sbin/mariadbd ]; then
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
  fi
fi
for _ in $(seq 1 30); do
  pg_ok=0; my_ok=0
  pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && pg_ok=1
  mysqladmin -h 127.0.0.1 -u root status >/dev/null 2>&1 && my_ok=1
  [ $pg_ok = 1 ] && [ $my_ok = 1 ] && break
  sleep 1
done
pg_isready -h 127.0.0.1 -p 5432 || echo "services: PostgreSQL is not answering on 127.0.0.1:5432"
mysqladmin -h 127.0.0.1 -u root status >/dev/null 2>&1 || echo "services: MariaDB is not answering on 127.0.0.1:3306"
# The databases the tests use.
psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname='test'" 2>/dev/null | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" >/dev/null 2>&1 || true
mysql -h 127.0.0.1 -u root -e "CREATE DATABASE IF NOT EXISTS test" >/dev/null 2>&1 || true
exit 0
