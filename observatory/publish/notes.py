"""What each published figure covers, in the words every product prints: the PDF and XLSX of the panoramas,
plaquettes and égalité report, the baromètre and the portal all quote this module, which quotes
``observatory/reference/indicateurs.csv`` for the definition of each indicator (the same file gives the SQL
its publication precision). No product words a definition of its own.
"""

from __future__ import annotations

from collections.abc import Iterable

from observatory.publish import fmt
from observatory.reference.indicateurs import couverture, indicateurs, libelle

GEOGRAPHIE = (
    "Territoires : la France est la somme de ses régions (départements d'outre-mer compris) ; les "
    "établissements situés à l'étranger, dans une collectivité d'outre-mer ou sans commune connue ne sont "
    "comptés dans aucun territoire, France comprise."
)
POSTES_INCOMPLETS = (
    "Un poste dont le salaire est manquant ou négatif, ou dont l'âge est invalide, reste compté dans les "
    "effectifs, les ETP et les établissements employeurs ; il ne sort que des indicateurs de salaire (ou "
    "d'âge)."
)
CHAMP_SALAIRES = (
    "Salaires (tableaux SAL G1/G2 de l'Insee) : postes non annexes hors apprentis, stagiaires et autres "
    "emplois (type d'emploi A ou X de la Base Tous salariés, contrat d'apprentissage) ; le salaire horaire ne "
    "retient que les postes dont le salaire net et les heures rémunérées sont connus et positifs (un poste "
    "sans heures sort du numérateur comme du dénominateur)."
)
SECTEUR_ADM = (
    "Le secteur « administration publique » (division 84 de la NAF) n'est publié que pour le champ public ; "
    "un établissement privé qui déclare cette activité est « non classé »."
)
TRANCHES_ENTREPRISES = (
    "Tranches de taille : celles de l'établissement (effectif salarié au 31/12) ; une entreprise est comptée "
    "une seule fois par territoire, dans la tranche de son plus grand établissement du territoire."
)
PRECISION = (
    "Précision : effectifs, établissements, entreprises et ETP à l'unité ; masse salariale au millier "
    "d'euros ; salaire annuel à l'euro, salaire horaire au dixième d'euro ; parts, taux et évolutions en %, "
    "au dixième de point. Chaque chiffre est arrondi séparément : une somme de chiffres arrondis peut "
    "différer du total publié."
)
#: The general notes of the annual products (panorama, plaquette, égalité), in print order.
ANNUELLES = (GEOGRAPHIE, POSTES_INCOMPLETS, CHAMP_SALAIRES, SECTEUR_ADM, TRANCHES_ENTREPRISES, PRECISION)

BAROMETRE_BRUT = "Données brutes, non corrigées des variations saisonnières."
BAROMETRE_PERIMETRE = (
    "Évolutions à périmètre constant : chaque établissement est classé (ESS, famille, secteur) selon le "
    "répertoire SIRENE actuel pour tous les trimestres de la série."
)
BAROMETRE_MSA = (
    "Source de type Urssaf (régime général) : les employeurs agricoles affiliés à la MSA et Mayotte sont hors "
    "du champ."
)
#: The notes of the baromètre, in print order.
BAROMETRE = (BAROMETRE_BRUT, BAROMETRE_PERIMETRE, BAROMETRE_MSA)

#: The heading of the list of definitions.
DEFINITIONS = "Définitions :"

#: Indicators of the baromètre (the others are the annual ones).
_BAROMETRE_CODES = ("effectif_fin_trimestre", "glissement_annuel", "solde_annuel")


def definition(code: str) -> str:
    """``Libellé : what it covers.`` for one indicator."""
    return f"{libelle(code)} : {couverture(code)}"


def definitions(codes: Iterable[str] | None = None, *, barometre: bool = False) -> list[str]:
    """The definitions of ``codes`` (default: every annual indicator, or the baromètre's), in table order."""
    table = indicateurs()
    if codes is None:
        wanted = table.indicateur.isin(_BAROMETRE_CODES)
        codes = table.indicateur[wanted if barometre else ~wanted]
    return [definition(c) for c in codes]


ECHELONS = {
    "france": "national (France)",
    "region": "régional (toutes les régions)",
    "departement": "départemental (tous les départements)",
    "epci": "intercommunal (tous les EPCI)",
}


def cout_du_secret(cost: dict | None, niveau: str, table: str, emplois: str) -> str | None:
    """What secrecy cost at one level, as the methodology pages print it, from ``manifest.json``'s
    ``cout_du_secret`` (one product's levels): cells by status and the share of jobs in hidden headcount cells.
    ``None`` when the cost of that level is unknown (a publication built without it); the share of jobs is left
    out when the cost does not give it (one or two hidden cells would be bounded by it)."""
    c = (cost or {}).get(niveau)
    if not c or not c.get("cellules"):
        return None
    n = c["cellules"]
    shown = c["publie"] + c["secret_primaire"] + c["secret_secondaire"]
    text = (
        f"Coût du secret à l'échelon {ECHELONS.get(niveau, niveau)} : sur "
        f"{fmt.nombre(n)} cases {table}, {fmt.pourcent(c['publie'] / n, 0)} sont publiées, "
        f"{fmt.pourcent(c['secret_primaire'] / n, 0)} masquées par le secret primaire et "
        f"{fmt.pourcent(c['secret_secondaire'] / n, 0)} par le secret secondaire"
        + (" (les autres : n.d.)" if shown < n else "")
    )
    share = c.get("part_emploi_masque_pourcent")
    if share is not None:  # a whole percent: 0 means less than half of one percent
        part = fmt.pourcent(share / 100, 0) if share else f"moins de {fmt.pourcent(0.01, 0)}"
        text += f" ; les cases d'effectif masquées regroupent {part} {emplois}"
    return text + "."
