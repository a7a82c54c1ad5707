"""What each published figure covers, in the words every product prints: the PDF and XLSX of the panoramas,
plaquettes and égalité report, the baromètre and the portal all quote this module, which quotes
``observatory/reference/indicateurs.csv`` for the definition of each indicator (the same file gives the SQL
its publication precision). No product words a definition of its own.
"""

from __future__ import annotations

from collections.abc import Iterable

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
