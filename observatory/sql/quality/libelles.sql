-- The labels of the data-quality report (observatory.quality): temporary tables read by sql/quality/*.sql.
--
-- _qualite_extraits: the extracts in display order, with their French name.
-- _qualite_motifs: every motif the pipeline writes, with a short French label and a plain-French
-- explanation for the data-quality report (observatory.quality). One row per motif.
-- etape: 'lecture' (the CSV parser could not read the line), 'controle' (a rule of sql/staging/ is broken),
-- 'perimetre' (the row cannot be attached to the perimeter, sql/perimeter/quarantaine_*.sql),
-- 'classification' (ess.unites_legales.motif, sql/perimeter/unites_legales.sql).
-- ordre: display order inside an etape. A motif absent from this table is shown under its code.

CREATE OR REPLACE TEMP TABLE _qualite_extraits (
    extrait VARCHAR PRIMARY KEY,
    ordre INTEGER NOT NULL,
    libelle VARCHAR NOT NULL
);

INSERT INTO _qualite_extraits VALUES
    ('unites_legales', 1, 'Unités légales (SIRENE)'),
    ('etablissements', 2, 'Établissements (SIRENE)'),
    ('postes', 3, 'Postes salariés (Base Tous salariés)'),
    ('effectifs_trimestriels', 4, 'Effectifs trimestriels (Urssaf)');

CREATE OR REPLACE TEMP TABLE _qualite_motifs (
    motif VARCHAR PRIMARY KEY,
    etape VARCHAR NOT NULL,
    ordre INTEGER NOT NULL,
    libelle VARCHAR NOT NULL,
    explication VARCHAR NOT NULL
);

INSERT INTO _qualite_motifs VALUES
    ('encodage_invalide', 'lecture', 1, 'Encodage invalide',
     'La ligne contient des octets qui ne sont ni de l''UTF-8 ni du Windows-1252 valides : elle ne peut pas être lue.'),
    ('colonnes_en_trop', 'lecture', 2, 'Colonnes en trop',
     'La ligne compte plus de champs que l''en-tête (séparateur en trop ou guillemet mal placé) : elle est écartée.'),
    ('colonnes_manquantes', 'lecture', 3, 'Colonnes manquantes',
     'La ligne compte moins de champs que l''en-tête : elle a été coupée et est écartée. La colonne indiquée est la dernière de l''en-tête.'),
    ('guillemet_non_ferme', 'lecture', 4, 'Guillemet non fermé',
     'Un champ ouvre un guillemet sans le refermer : la fin de la ligne ne peut pas être découpée.'),
    ('ligne_trop_longue', 'lecture', 5, 'Ligne trop longue',
     'La ligne dépasse 64 Kio (une vraie ligne SIRENE fait moins de 2 Ko) : elle est écartée.'),
    ('ligne_illisible', 'lecture', 6, 'Ligne illisible',
     'Le lecteur CSV n''a pas pu lire la ligne pour une autre raison.'),
    ('siren_invalide', 'controle', 1, 'SIREN invalide',
     'Le SIREN n''est pas composé de 9 chiffres : l''unité ne peut pas être identifiée.'),
    ('siret_invalide', 'controle', 2, 'SIRET invalide',
     'Le SIRET n''est pas composé de 14 chiffres : l''établissement ne peut pas être identifié.'),
    ('siret_incoherent', 'controle', 3, 'SIRET incohérent',
     'Le SIRET n''est pas la concaténation du SIREN et du NIC de la même ligne.'),
    ('doublon', 'controle', 4, 'Doublon',
     'L''identifiant figure déjà sur une ligne précédente du fichier : seule la première occurrence est gardée.'),
    ('cj_invalide', 'controle', 5, 'Catégorie juridique mal formée',
     'La catégorie juridique n''est pas un code à 4 chiffres. La ligne est gardée ; l''unité sera classée hors ESS (catégorie inconnue).'),
    ('naf_inconnu', 'controle', 6, 'Code NAF inconnu',
     'Le code d''activité déclaré en NAF rév. 2 n''existe pas dans cette nomenclature. La ligne est gardée ; l''activité est traitée comme non classée.'),
    ('hors_territoire', 'controle', 7, 'Hors territoire',
     'La commune est à l''étranger (99xxx), dans une collectivité d''outre-mer (98x) ou n''est pas renseignée. L''établissement est gardé mais n''est compté dans aucun territoire.'),
    ('commune_inconnue', 'controle', 8, 'Commune inconnue',
     'Le code commune n''existe pas dans le Code officiel géographique en vigueur. L''établissement est gardé mais n''est compté dans aucun territoire.'),
    ('booleen_invalide', 'controle', 9, 'Booléen invalide',
     'L''indicateur de siège n''est ni « true » ni « false ». La ligne est gardée, l''indicateur est laissé vide.'),
    ('sexe_invalide', 'controle', 10, 'Sexe invalide',
     'Le sexe n''est ni 1 (homme) ni 2 (femme) : le poste est écarté.'),
    ('age_impossible', 'controle', 11, 'Âge impossible',
     'L''âge n''est pas un nombre entier compris entre 14 et 80 ans : le poste est écarté.'),
    ('filt_invalide', 'controle', 12, 'Filtre poste annexe invalide',
     'FILT n''est ni 1 (poste non annexe) ni 2 (poste annexe) : le poste est écarté.'),
    ('date_hors_plage', 'controle', 13, 'Date hors plage',
     'Le premier ou le dernier jour rémunéré n''est pas un jour de l''année entre 1 et 360 : le poste est écarté.'),
    ('dates_incoherentes', 'controle', 14, 'Dates incohérentes',
     'Le premier jour rémunéré est postérieur au dernier : le poste est écarté.'),
    ('valeur_non_numerique', 'controle', 15, 'Valeur non numérique',
     'Un champ numérique (durée, heures, montant) contient autre chose qu''un nombre : la ligne est écartée.'),
    ('heures_negatives', 'controle', 16, 'Heures négatives',
     'Le nombre d''heures rémunérées est négatif : le poste est écarté.'),
    ('heures_nulles', 'controle', 17, 'Heures nulles',
     'Aucune heure rémunérée pour un poste dont l''équivalent temps plein est positif. Le poste est gardé ; il ne compte pas dans le salaire horaire.'),
    ('eqtp_hors_plage', 'controle', 18, 'EQTP hors plage',
     'L''équivalent temps plein du poste est absent ou hors de l''intervalle 0 à 1,5 : le poste est écarté.'),
    ('salaire_manquant', 'controle', 19, 'Salaire manquant',
     'Le salaire brut ou net de l''année n''est pas renseigné : le poste est écarté.'),
    ('salaire_negatif', 'controle', 20, 'Montant négatif',
     'Un salaire ou une masse salariale est négatif : la ligne est écartée.'),
    ('effectif_invalide', 'controle', 21, 'Effectif invalide',
     'L''effectif de fin de trimestre est absent ou n''est pas un nombre entier : la ligne est écartée.'),
    ('effectif_negatif', 'controle', 22, 'Effectif négatif',
     'L''effectif de fin de trimestre est négatif : la ligne est écartée.'),
    ('trimestre_invalide', 'controle', 23, 'Trimestre invalide',
     'Le trimestre n''est pas de la forme AAAA-Tn avec n de 1 à 4 : la ligne est écartée.'),
    ('siren_inconnu', 'perimetre', 1, 'Unité légale inconnue',
     'Le SIREN de l''établissement ne figure pas dans le fichier des unités légales : l''établissement ne peut pas être classé et n''est pas compté.'),
    ('siret_inconnu', 'perimetre', 2, 'Établissement inconnu',
     'Le SIRET du poste ne correspond à aucun établissement classé : le poste n''est pas compté.'),
    ('cj_famille', 'classification', 1, 'Famille de l''ESS',
     'La catégorie juridique appartient à une famille de l''ESS et l''activité n''est pas exclue : l''unité est dans l''ESS.'),
    ('nomenclature_non_rev2', 'classification', 2, 'Nomenclature ancienne',
     'L''activité n''est pas codée en NAF rév. 2 (NAF rév. 1, NAF 1993, NAP ou vide) : l''unité est classée sur sa seule catégorie juridique, sans test d''exclusion d''activité.'),
    ('activite_absente', 'classification', 3, 'Activité absente',
     'Nomenclature NAF rév. 2 mais aucun code d''activité : l''unité est classée sur sa seule catégorie juridique.'),
    ('activite_exclue', 'classification', 4, 'Activité exclue',
     'Famille de l''ESS, mais l''activité fait partie des activités exclues du périmètre (administration publique, syndicats, organisations religieuses…) : hors ESS.'),
    ('drapeau_sirene', 'classification', 5, 'Entreprise de l''ESS (SIRENE)',
     'Hors du périmètre statistique, mais déclarée entreprise de l''ESS dans SIRENE : dans le périmètre de la loi de 2014 seulement (société commerciale de l''ESS).'),
    ('cj_hors_perimetre', 'classification', 6, 'Catégorie juridique hors ESS',
     'La catégorie juridique existe mais n''appartient à aucune famille de l''ESS : hors ESS.'),
    ('cj_inconnue', 'classification', 7, 'Catégorie juridique inconnue',
     'Le code de catégorie juridique n''existe pas dans la nomenclature de l''Insee : l''unité est classée hors ESS et comptée ici, jamais écartée en silence.'),
    ('cj_absente', 'classification', 8, 'Catégorie juridique absente',
     'La catégorie juridique n''est pas renseignée (vide ou non diffusible) : l''unité est classée hors ESS.');
