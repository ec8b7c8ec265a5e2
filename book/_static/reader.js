// What the reader does: behaviour fixes on top of the theme (see CONTRIBUTING.md, Decisions).
