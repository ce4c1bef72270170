"""The page's texts, in Dutch (the default) and English. A missing English text falls back to
the Dutch one; a missing key is shown as itself, so a gap is visible, never an error."""

from __future__ import annotations

LANGUAGES = ("nl", "en")
TEXTS: dict[str, tuple[str, str]] = {
    "site": ("App Store voor Common Ground", "App Store for Common Ground"),
    "skip": ("Naar de inhoud", "Skip to content"),
    "nav": ("Hoofdmenu", "Main menu"),
    "catalogue": ("Catalogus", "Catalogue"),
    "tenants": ("Gemeenten", "Municipalities"),
    "rollouts": ("Uitrol", "Rollouts"),
    "fleet": ("Vloot", "Fleet"),
    "language": ("Taal", "Language"),
    "search": ("Zoeken", "Search"),
    "filter": ("Filteren", "Filter"),
    "all": ("Alle", "All"),
    "layer": ("Laag", "Layer"),
    "tier": ("Niveau", "Tier"),
    "lifecycle": ("Levensfase", "Lifecycle"),
    "delivery": ("Levering", "Delivery"),
    "standard": ("Standaard", "Standard"),
    "steward": ("Beheerder", "Steward"),
    "shown": ("{shown} van {total} componenten", "{shown} of {total} components"),
    "municipalities_running": ("{n} gemeenten", "{n} municipalities"),
    "version": ("Versie", "Version"),
    "versions": ("Versies", "Versions"),
    "default": ("aanbevolen", "recommended"),
    "deprecated": ("verouderd", "deprecated"),
    "end_of_support": ("Einde ondersteuning", "End of support"),
    "running": ("In gebruik", "Running"),
    "standards": ("Standaarden", "Standards"),
    "offerings": ("Aanbod", "Offerings"),
    "delivery_organisation": ("Leveringsorganisatie", "Delivery organisation"),
    "requirements": ("Vereist", "Requires"),
    "optional": ("optioneel", "optional"),
    "none": ("geen", "none"),
    "ring": ("Ring", "Ring"),
    "municipality": ("Gemeente", "Municipality"),
    "ready": ("Gereed", "Ready"),
    "healthy": ("Gezond", "Healthy"),
    "reason": ("Reden", "Reason"),
    "upgrade": ("Nieuwere versie", "Upgrade available"),
    "upgrades": ("{n} achter op de aanbevolen versie", "{n} behind the recommended version"),
    "fleet_summary": ("{ready} van {total} gereed", "{ready} of {total} Ready"),
    "fleet_hidden": (
        "U mag niet zien welke gemeenten dit gebruiken.",
        "You may not see which municipalities run this.",
    ),
    "components": ("Componenten", "Components"),
    "component": ("Component", "Component"),
    "offering": ("Aanbod", "Offering"),
    "values": ("Instellingen (SLEUTEL=waarde, één per regel)", "Settings (KEY=value, one a line)"),
    "version_policy": (
        "Versie (leeg: volgt de aanbevolen versie en de uitrol)",
        "Version (empty: follows the recommended version and rollouts)",
    ),
    "subscribe": ("Afnemen", "Subscribe"),
    "unsubscribe": ("Opzeggen", "Unsubscribe"),
    "confirm_unsubscribe": ("Opzeggen bevestigen", "Confirm unsubscribing"),
    "cancel": ("Annuleren", "Cancel"),
    "pending_approvals": ("Wacht op uw akkoord", "Waiting for your approval"),
    "approve": ("Akkoord geven", "Approve"),
    "quota": ("Quotum", "Quota"),
    "used": ("Gebruikt", "Used"),
    "limit": ("Limiet", "Limit"),
    "namespace": ("Namespace", "Namespace"),
    "wave": ("Golf", "Wave"),
    "waves": ("Golven", "Waves"),
    "current_wave": ("huidige golf", "current wave"),
    "state": ("Status", "State"),
    "phase": ("Fase", "Phase"),
    "from": ("Van", "From"),
    "to": ("Naar", "To"),
    "updated": ("Bijgewerkt", "Updated"),
    "failed": ("Mislukt", "Failed"),
    "completed": ("Voltooid", "Completed"),
    "bake": ("Bakt sinds", "Baking since"),
    "approve_wave": ("Golf goedkeuren", "Approve wave"),
    "pause": ("Pauzeren", "Pause"),
    "resume": ("Hervatten", "Resume"),
    "page": ("Pagina {page} van {pages}", "Page {page} of {pages}"),
    "previous": ("Vorige", "Previous"),
    "next": ("Volgende", "Next"),
    "forbidden": ("Niet toegestaan", "Not allowed"),
    "forbidden_intro": (
        "Kubernetes staat u dit niet toe. Vraag het platformteam om deze rechten:",
        "Kubernetes does not allow you this. Ask the platform team for this permission:",
    ),
    "not_found": ("Niet gevonden", "Not found"),
    "error": ("Dat lukte niet", "That did not work"),
    "conflict": (
        "Het is intussen gewijzigd; probeer het opnieuw.",
        "It changed in the meantime; try again.",
    ),
    "sign_in": ("Aanmelden nodig", "Sign-in needed"),
    "sign_in_intro": (
        "Deze pagina werkt met uw eigen identiteit. Open haar via de aanmeldproxy van uw "
        "organisatie.",
        "This page acts as you. Open it through your organisation's sign-in proxy.",
    ),
    "done": ("Gelukt", "Done"),
    "status_True": ("Ja", "Yes"),
    "status_False": ("Nee", "No"),
    "status_Unknown": ("Onbekend", "Unknown"),
    "no_rows": ("Niets te tonen.", "Nothing to show."),
    "back": ("Terug", "Back"),
}


# The operator's condition reasons and rollout states, for people: the code stays in the page
# (a data attribute) for scripts and for searching the operator's documentation and logs.
REASONS: dict[str, tuple[str, str]] = {
    # An installation's Ready
    "Available": ("Beschikbaar", "Available"),
    "Progressing": ("Bezig", "In progress"),
    "BindingReady": ("Gekoppeld", "Bound"),
    "MissingDependency": ("Vereist component ontbreekt", "Required component missing"),
    "DependencyNotReady": ("Vereist component niet gereed", "Required component not ready"),
    "DependencyNotExposed": (
        "Vereist component niet van buiten bereikbaar",
        "Required component not reachable from outside",
    ),
    "MissingSecret": ("Geheim ontbreekt", "Secret missing"),
    "ExposureUnavailable": ("Ontsluiting niet beschikbaar", "Exposure unavailable"),
    "WaitingForInputs": ("Wacht op gegevens", "Waiting for inputs"),
    "Configuring": ("Wordt ingericht", "Being configured"),
    "Configured": ("Ingericht", "Configured"),
    "ConfigurationFailed": ("Inrichting mislukt", "Configuration failed"),
    "InvalidSpec": ("Ongeldige opgave", "Invalid specification"),
    "ReconcileError": ("Verwerkingsfout", "Processing error"),
    # A municipality's Ready
    "UnmatchedApproval": ("Goedkeuring zonder uitrol", "Approval without a rollout"),
    # A rollout's phase and each municipality's state in it
    "Pending": ("In afwachting", "Pending"),
    "Complete": ("Voltooid", "Complete"),
    "Failed": ("Mislukt", "Failed"),
    "Aborted": ("Afgebroken", "Aborted"),
    "Paused": ("Gepauzeerd", "Paused"),
    "WaitingForApproval": ("Wacht op goedkeuring", "Waiting for approval"),
    "Updating": ("Wordt bijgewerkt", "Updating"),
    "Baking": ("Proefperiode", "Baking"),
    "Done": ("Klaar", "Done"),
    "RolledBack": ("Teruggedraaid", "Rolled back"),
    "Skipped": ("Overgeslagen", "Skipped"),
}


def reason(code: str, language: str) -> str:
    """A reason or state code in the page's language; an unknown code as itself."""
    nl, en = REASONS.get(code, (code, code))
    return en if language == "en" else nl


def translate(key: str, language: str, **values: object) -> str:
    """The text for `key` in `language`, with {placeholders} filled."""
    nl, en = TEXTS.get(key, (key, key))
    text = en if language == "en" and en else nl
    return text.format(**values) if values else text
