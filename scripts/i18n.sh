#!/usr/bin/env bash
# Hindi translations of the web app.
#   scripts/i18n.sh extract   refresh webapp/translations/messages.pot and merge it into hi/messages.po
#   scripts/i18n.sh compile   compile every messages.po to messages.mo
#   scripts/i18n.sh           both
# After extract, translate the new empty msgstr entries in webapp/translations/hi/LC_MESSAGES/messages.po.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

translations=webapp/translations
pot="$translations/messages.pot"
locales=(hi)

pybabel() {
    python -m babel.messages.frontend "$@"
}

extract() {
    mkdir -p "$translations"
    # Keywords: Babel's defaults (_, gettext, ngettext, ...) plus lazy_gettext, imported as _l.
    # Keep in step with KEYWORDS in tests/test_translations.py.
    pybabel --quiet extract -F babel.cfg -k _l -k lazy_gettext \
        --no-location --sort-output --add-comments=TRANSLATORS: --width=110 \
        --project="Control Room" --copyright-holder="Control Room" \
        -o "$pot" .
    for locale in "${locales[@]}"; do
        pybabel --quiet update -i "$pot" -d "$translations" -l "$locale" --no-fuzzy-matching --init-missing --width=110
    done
}

compile() {
    pybabel compile --statistics -d "$translations"
}

case "${1:-all}" in
    extract) extract ;;
    compile) compile ;;
    all) extract && compile ;;
    *)
        echo "usage: $0 [extract|compile]" >&2
        exit 2
        ;;
esac
