#!/usr/bin/env bash
# Install the pinned front-end packages (package.json / package-lock.json) and copy the files the
# app serves into static/vendor/. The copies are committed, so a fresh machine needs no npm;
# run this only to upgrade: edit the exact version in package.json, run it, commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -f package-lock.json ]]; then
    npm ci --no-audit --no-fund --ignore-scripts
else
    npm install --no-audit --no-fund --ignore-scripts
fi

copy() {  # copy PACKAGE DEST FILE... (each FILE lands in DEST by its base name)
    local package=$1 dest=$2
    shift 2
    mkdir -p "$dest"
    for file in "$@"; do
        cp "node_modules/$package/$file" "$dest/$(basename "$file")"
    done
    version=$(node -p "require('./node_modules/$package/package.json').version")
    echo "$package $version" > "$dest/VERSION"
    echo "vendored $package $version into $dest"
}

copy swagger-ui-dist static/vendor/swagger-ui \
    swagger-ui.css swagger-ui-bundle.js swagger-ui-standalone-preset.js LICENSE

# the UMD build (global `msal`) for the Outlook add-in's nested app authentication (UI-1)
copy @azure/msal-browser static/vendor/msal-browser lib/msal-browser.min.js LICENSE
