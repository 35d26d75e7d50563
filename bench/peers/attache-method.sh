#!/usr/bin/env bash
# Attaché's deploy method, command for command (tpg/attache, src/Deployer.php and src/Ssh.php):
#
#   1. the deployment task: ONE `ssh … 'bash -se'` fed a heredoc script that clones the branch
#      (--depth 1) into releases/<id>, moves storage/ to the root on the first deploy (removes the
#      release's copy later), links the shared storage and .env, runs composer install and
#      `php artisan storage:link`;
#   2. the asset task: one `scp -r` per asset path into the release (a new connection each);
#   3. the live task: ONE more `ssh` that swaps the live symlink with `ln -nfs`.
#
# Every ssh/scp is a separate connection (no ControlMaster), as Attaché runs them.
# Attaché's own extras that cost nothing here are left out: `printf "\033c"` screen clears and the
# empty before-/after- hook scripts. Its "install" flag (first deploy: mv storage; else rm) is decided
# on the server by whether root/storage exists yet, which is the same thing for a fresh root.
#
# Environment:
#   SSH_OPTS    ssh/scp options without the port, word-split (paths without spaces), e.g.
#               "-F ~/.ssh/config -i key -o UserKnownHostsFile=… -o StrictHostKeyChecking=yes -o BatchMode=yes"
#   PORT        server port
#   HOST        user@host
#   ROOT        deploy root on the server
#   REPO        repository URL as the server sees it (file:///…/app.git)
#   BRANCH      branch to deploy
#   RELEASE     release id (Attaché: a timestamp, YmdHis)
#   ASSETS_DIR  local directory the asset paths are relative to (the build output)
#   ASSETS      asset paths, space-separated (default: public/js public/css public/images)
set -euo pipefail

: "${PORT:?}" "${HOST:?}" "${ROOT:?}" "${REPO:?}" "${BRANCH:?}" "${RELEASE:?}" "${ASSETS_DIR:?}"
ASSETS="${ASSETS:-public/js public/css public/images}"
read -r -a ssh_opts <<<"${SSH_OPTS:-}"

q() { printf '%q' "$1"; }
release="$ROOT/releases/$RELEASE"

# 1. Deployment task.
ssh "${ssh_opts[@]}" "$HOST" -p"$PORT" 'bash -se' <<ATTACHE
cd $(q "$ROOT")
git clone -b $(q "$BRANCH") --depth=1 $(q "$REPO") $(q "$release")
cd $(q "$ROOT")
if [ ! -e $(q "$ROOT/storage") ]; then mv $(q "$release/storage") $(q "$ROOT/storage"); else rm -rf $(q "$release/storage"); fi
ln -nfs $(q "$ROOT/storage") $(q "$release/storage")
ln -nfs $(q "$ROOT/.env") $(q "$release/.env")
cd $(q "$release")
COMPOSER_ALLOW_SUPERUSER=1 composer install --no-dev --no-interaction
php $(q "$release/artisan") storage:link
ATTACHE

# 2. Asset task: `scp -P<port> -r <asset> user@host:<release>/<target>`, one per asset.
cd "$ASSETS_DIR"
for asset in $ASSETS; do
  if [ ! -e "$asset" ]; then
    echo "$asset not found. Skipping."
    continue
  fi
  scp "${ssh_opts[@]}" -P"$PORT" -r "$asset" "$HOST:$release/$asset"
done

# 3. Live task.
ssh "${ssh_opts[@]}" "$HOST" -p"$PORT" 'bash -se' <<ATTACHE
cd $(q "$ROOT")
ln -nfs $(q "$release") $(q "$ROOT/live")
ATTACHE
