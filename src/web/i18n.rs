//! The pages' languages: English and French (the product guide's), chosen by the `lang`
//! cookie the switch sets, else by the browser's Accept-Language (RFC 9110 12.5.4), else
//! English. Every string a page shows is in one table per language.

/// A language the pages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Fr,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        let primary = code.split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("en") {
            Some(Lang::En)
        } else if primary.eq_ignore_ascii_case("fr") {
            Some(Lang::Fr)
        } else {
            None
        }
    }

    /// The other language, which the switch offers.
    pub fn other(self) -> Self {
        match self {
            Lang::En => Lang::Fr,
            Lang::Fr => Lang::En,
        }
    }

    pub fn text(self) -> &'static Text {
        match self {
            Lang::En => &EN,
            Lang::Fr => &FR,
        }
    }

    /// The cookie's choice, else the highest-weighted language of Accept-Language that
    /// the pages have (ties: the first listed), else English.
    pub fn choose(cookie: Option<&str>, accept_language: Option<&str>) -> Self {
        if let Some(l) = cookie.and_then(Lang::from_code) {
            return l;
        }
        let mut best: Option<(u16, Lang)> = None;
        for range in accept_language.unwrap_or_default().split(',') {
            let mut parts = range.split(';');
            let Some(lang) = Lang::from_code(parts.next().unwrap_or_default().trim()) else {
                continue;
            };
            let weight = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(1000, quality);
            if weight > 0 && best.is_none_or(|(w, _)| weight > w) {
                best = Some((weight, lang));
            }
        }
        best.map_or(Lang::En, |(_, l)| l)
    }
}

/// A qvalue (`0.8`) in thousandths; a malformed one counts as 0 (not acceptable).
fn quality(q: &str) -> u16 {
    let (int, frac) = q.trim().split_once('.').unwrap_or((q.trim(), ""));
    let digits: String = frac.chars().chain("000".chars()).take(3).collect();
    match (int, digits.parse::<u16>()) {
        ("1", Ok(0)) => 1000,
        ("0", Ok(f)) if frac.len() <= 3 && frac.bytes().all(|b| b.is_ascii_digit()) => f,
        _ => 0,
    }
}

/// Every string the pages show, in one language.
pub struct Text {
    pub language_name: &'static str,
    pub admin_title: &'static str,
    pub account_title: &'static str,
    pub sign_in: &'static str,
    pub sign_in_title: &'static str,
    pub address: &'static str,
    pub password: &'static str,
    pub sign_out: &'static str,
    pub bad_login: &'static str,
    pub throttled: &'static str,
    pub account_disabled: &'static str,
    pub forbidden: &'static str,
    pub admins_only: &'static str,
    pub csrf_refused: &'static str,
    pub not_found: &'static str,
    pub server_error: &'static str,
    pub nav_dashboard: &'static str,
    pub nav_accounts: &'static str,
    pub nav_audit: &'static str,
    pub nav_policies: &'static str,
    pub policy_security: &'static str,
    pub policy_sync: &'static str,
    pub policy_device: &'static str,
    pub policy_apps: &'static str,
    pub policy_server: &'static str,
    pub policy_level: &'static str,
    pub show: &'static str,
    pub inherit: &'static str,
    pub nothing_changed: &'static str,
    pub protocol_log: &'static str,
    pub log_on: &'static str,
    pub log_off: &'static str,
    pub log_empty: &'static str,
    pub log_tail: &'static str,
    pub maintenance: &'static str,
    pub sync_reset: &'static str,
    pub sync_reset_explained: &'static str,
    pub sync_reset_question: &'static str,
    pub my_policy: &'static str,
    pub out_of_office: &'static str,
    pub oof_on: &'static str,
    pub oof_reply: &'static str,
    pub save: &'static str,
    pub oof_needs_text: &'static str,
    pub oof_saved: &'static str,
    pub choose_account: &'static str,
    pub activesync_off: &'static str,
    pub activesync_on: &'static str,
    pub set_password: &'static str,
    pub on: &'static str,
    pub off: &'static str,
    pub delete_account_question: &'static str,
    pub nav_devices: &'static str,
    pub allow: &'static str,
    pub block: &'static str,
    pub delete: &'static str,
    pub account_only_wipe: &'static str,
    pub wipe_cancel: &'static str,
    pub filter: &'static str,
    pub devices_found: &'static str,
    pub protocol: &'static str,
    pub registered: &'static str,
    pub pages: &'static str,
    pub previous: &'static str,
    pub next: &'static str,
    pub domain: &'static str,
    pub choose_action: &'static str,
    pub choose_device: &'static str,
    pub done: &'static str,
    pub delete_question: &'static str,
    pub account_wipe_question: &'static str,
    pub nav_my_account: &'static str,
    pub version: &'static str,
    pub uptime: &'static str,
    pub memory: &'static str,
    pub store_size: &'static str,
    pub accounts: &'static str,
    pub devices: &'static str,
    pub waiting: &'static str,
    pub allowed: &'static str,
    pub lmtp: &'static str,
    pub delivered: &'static str,
    pub unknown_recipients: &'static str,
    pub not_delivered: &'static str,
    pub notify: &'static str,
    pub received: &'static str,
    pub accepted: &'static str,
    pub certificate: &'static str,
    pub issuer: &'static str,
    pub expires: &'static str,
    pub expires_soon: &'static str,
    pub fingerprint: &'static str,
    pub blocked: &'static str,
    pub quarantined: &'static str,
    pub audit_title: &'static str,
    pub audit_empty: &'static str,
    pub when: &'static str,
    pub who: &'static str,
    pub from: &'static str,
    pub action: &'static str,
    pub detail: &'static str,
    pub outcome: &'static str,
    pub ok: &'static str,
    pub name: &'static str,
    pub role: &'static str,
    pub state: &'static str,
    pub admin: &'static str,
    pub user: &'static str,
    pub enabled: &'static str,
    pub disabled: &'static str,
    pub enable: &'static str,
    pub disable: &'static str,
    pub add_account: &'static str,
    pub add: &'static str,
    pub refused: &'static str,
    pub my_devices: &'static str,
    pub no_devices: &'static str,
    pub device: &'static str,
    pub device_type: &'static str,
    pub model: &'static str,
    pub last_sync: &'static str,
    pub wipe_status: &'static str,
    pub wipe: &'static str,
    pub wipe_question: &'static str,
    pub wipe_confirm: &'static str,
    pub cancel: &'static str,
    pub not_your_device: &'static str,
    pub change_password: &'static str,
    pub current_password: &'static str,
    pub new_password: &'static str,
    pub change: &'static str,
    pub wrong_password: &'static str,
    pub password_changed: &'static str,
    pub wipe_requested: &'static str,
}

pub static EN: Text = Text {
    language_name: "English",
    admin_title: "easd administration",
    account_title: "My account",
    sign_in: "Sign in",
    sign_in_title: "Sign in to easd",
    address: "Address",
    password: "Password",
    sign_out: "Sign out",
    bad_login: "Wrong address or password.",
    throttled: "Too many failed sign-ins: try again later.",
    account_disabled: "This account is disabled.",
    forbidden: "You may not do this.",
    admins_only: "This page is for administrators.",
    csrf_refused: "This form has expired or did not come from this site: nothing was changed. \
                   Reload the page and try again.",
    not_found: "No such page.",
    server_error: "The server could not do this; see its log.",
    nav_dashboard: "Dashboard",
    nav_accounts: "Accounts",
    nav_audit: "Audit log",
    nav_policies: "Policies",
    policy_security: "Security",
    policy_sync: "Synchronisation",
    policy_device: "Device",
    policy_apps: "Applications",
    policy_server: "Server (easd's own)",
    policy_level: "Level: server, domain:D, user:EMAIL or device:EMAIL/DEVICEID",
    show: "Show",
    inherit: "Inherit from the level above",
    nothing_changed: "Nothing changed.",
    protocol_log: "Protocol log",
    log_on: "Log this device",
    log_off: "Stop logging",
    log_empty: "No protocol log for this device.",
    log_tail: "Its latest entries:",
    maintenance: "Maintenance",
    sync_reset: "Reset the ActiveSync database",
    sync_reset_explained: "Drops every device's sync state; mail, accounts and the devices' settings are kept, and every device syncs everything again.",
    sync_reset_question: "Every device will download all its folders again. Reset the ActiveSync database?",
    my_policy: "The policy my devices follow",
    out_of_office: "Out of office",
    oof_on: "Reply to every message while I am away",
    oof_reply: "Reply",
    save: "Save",
    oof_needs_text: "Write the reply first.",
    oof_saved: "Your out-of-office settings were saved.",
    choose_account: "Choose an account first.",
    activesync_off: "ActiveSync off",
    activesync_on: "ActiveSync on",
    set_password: "Set the password",
    on: "on",
    off: "off",
    delete_account_question: "Delete this account and everything it holds (mail, devices, settings)? This cannot be undone.",
    nav_devices: "Devices",
    allow: "Allow",
    block: "Block",
    delete: "Delete",
    account_only_wipe: "Wipe the account only",
    wipe_cancel: "Cancel the wipe",
    filter: "Filter",
    devices_found: "devices",
    protocol: "Protocol",
    registered: "Registered",
    pages: "Pages",
    previous: "Previous",
    next: "Next",
    domain: "Domain",
    choose_action: "Choose an action.",
    choose_device: "Choose a device first.",
    done: "Done.",
    delete_question: "Delete this device from the registry? Its sync state goes with it; if it connects again it is a new device.",
    account_wipe_question: "Erase this account's data on the device the next time it connects (the rest of the device is kept)?",
    nav_my_account: "My account",
    version: "Version",
    uptime: "Uptime",
    memory: "Memory in use",
    store_size: "Store size",
    accounts: "Accounts",
    devices: "Devices",
    waiting: "Waiting Pings and Syncs",
    allowed: "allowed",
    lmtp: "Mail delivered (LMTP)",
    delivered: "delivered",
    unknown_recipients: "unknown recipients",
    not_delivered: "not delivered",
    notify: "Change notifications",
    received: "received",
    accepted: "accepted",
    certificate: "Certificate",
    issuer: "Issuer",
    expires: "Expires",
    expires_soon: "expires in less than 14 days: renew it",
    fingerprint: "SHA-256 fingerprint",
    blocked: "blocked",
    quarantined: "quarantined",
    audit_title: "Audit log",
    audit_empty: "No admin action recorded yet.",
    when: "When",
    who: "Who",
    from: "From",
    action: "Action",
    detail: "Detail",
    outcome: "Outcome",
    ok: "done",
    name: "Name",
    role: "Role",
    state: "State",
    admin: "administrator",
    user: "user",
    enabled: "enabled",
    disabled: "disabled",
    enable: "Enable",
    disable: "Disable",
    add_account: "Add an account",
    add: "Add",
    refused: "Refused",
    my_devices: "My devices",
    no_devices: "No device.",
    device: "Device",
    device_type: "Type",
    model: "Model",
    last_sync: "Last sync",
    wipe_status: "Remote wipe",
    wipe: "Wipe",
    wipe_question: "Erase everything on this device the next time it connects? This \
                    cannot be undone.",
    wipe_confirm: "Yes, wipe it",
    cancel: "Cancel",
    not_your_device: "This device is not yours.",
    change_password: "Change my password",
    current_password: "Current password",
    new_password: "New password",
    change: "Change",
    wrong_password: "The current password is wrong.",
    password_changed: "Your password was changed.",
    wipe_requested: "The device will be wiped the next time it connects.",
};

pub static FR: Text = Text {
    language_name: "Français",
    admin_title: "Administration d'easd",
    account_title: "Mon compte",
    sign_in: "Se connecter",
    sign_in_title: "Connexion à easd",
    address: "Adresse",
    password: "Mot de passe",
    sign_out: "Se déconnecter",
    bad_login: "Adresse ou mot de passe incorrect.",
    throttled: "Trop de connexions échouées : réessayez plus tard.",
    account_disabled: "Ce compte est désactivé.",
    forbidden: "Vous ne pouvez pas faire cela.",
    admins_only: "Cette page est réservée aux administrateurs.",
    csrf_refused: "Ce formulaire a expiré ou ne vient pas de ce site : rien n'a été modifié. \
                   Rechargez la page et recommencez.",
    not_found: "Cette page n'existe pas.",
    server_error: "Le serveur n'a pas pu le faire ; voyez son journal.",
    nav_dashboard: "Tableau de bord",
    nav_accounts: "Comptes",
    nav_audit: "Journal d'audit",
    nav_policies: "Stratégies",
    policy_security: "Sécurité",
    policy_sync: "Synchronisation",
    policy_device: "Appareil",
    policy_apps: "Applications",
    policy_server: "Serveur (propres à easd)",
    policy_level: "Niveau : server, domain:D, user:ADRESSE ou device:ADRESSE/APPAREIL",
    show: "Afficher",
    inherit: "Hériter du niveau supérieur",
    nothing_changed: "Rien n'a changé.",
    protocol_log: "Journal de protocole",
    log_on: "Journaliser cet appareil",
    log_off: "Arrêter la journalisation",
    log_empty: "Aucun journal de protocole pour cet appareil.",
    log_tail: "Ses dernières entrées :",
    maintenance: "Maintenance",
    sync_reset: "Réinitialiser la base ActiveSync",
    sync_reset_explained: "Efface l'état de synchronisation de chaque appareil ; le courrier, les comptes et les réglages des appareils sont conservés, et chaque appareil resynchronise tout.",
    sync_reset_question: "Chaque appareil va retélécharger tous ses dossiers. Réinitialiser la base ActiveSync ?",
    my_policy: "La stratégie que suivent mes appareils",
    out_of_office: "Absence du bureau",
    oof_on: "Répondre à chaque message pendant mon absence",
    oof_reply: "Réponse",
    save: "Enregistrer",
    oof_needs_text: "Écrivez d'abord la réponse.",
    oof_saved: "Vos réglages d'absence ont été enregistrés.",
    choose_account: "Choisissez d'abord un compte.",
    activesync_off: "ActiveSync désactivé",
    activesync_on: "ActiveSync activé",
    set_password: "Définir le mot de passe",
    on: "activé",
    off: "désactivé",
    delete_account_question: "Supprimer ce compte et tout ce qu'il contient (courrier, appareils, réglages) ? C'est irréversible.",
    nav_devices: "Appareils",
    allow: "Autoriser",
    block: "Bloquer",
    delete: "Supprimer",
    account_only_wipe: "Effacer le compte seulement",
    wipe_cancel: "Annuler l'effacement",
    filter: "Filtrer",
    devices_found: "appareils",
    protocol: "Protocole",
    registered: "Enregistré le",
    pages: "Pages",
    previous: "Précédents",
    next: "Suivants",
    domain: "Domaine",
    choose_action: "Choisissez une action.",
    choose_device: "Choisissez d'abord un appareil.",
    done: "Fait.",
    delete_question: "Supprimer cet appareil du registre ? Son état de synchronisation disparaît avec lui ; s'il se reconnecte, c'est un nouvel appareil.",
    account_wipe_question: "Effacer les données de ce compte sur l'appareil à sa prochaine connexion (le reste de l'appareil est conservé) ?",
    nav_my_account: "Mon compte",
    version: "Version",
    uptime: "En service depuis",
    memory: "Mémoire utilisée",
    store_size: "Taille de la base",
    accounts: "Comptes",
    devices: "Appareils",
    waiting: "Ping et Sync en attente",
    allowed: "autorisés",
    lmtp: "Courrier remis (LMTP)",
    delivered: "remis",
    unknown_recipients: "destinataires inconnus",
    not_delivered: "non remis",
    notify: "Notifications de changement",
    received: "reçues",
    accepted: "acceptées",
    certificate: "Certificat",
    issuer: "Émetteur",
    expires: "Expire le",
    expires_soon: "expire dans moins de 14 jours : renouvelez-le",
    fingerprint: "Empreinte SHA-256",
    blocked: "bloqués",
    quarantined: "en quarantaine",
    audit_title: "Journal d'audit",
    audit_empty: "Aucune action d'administration enregistrée.",
    when: "Quand",
    who: "Qui",
    from: "Depuis",
    action: "Action",
    detail: "Détail",
    outcome: "Résultat",
    ok: "fait",
    name: "Nom",
    role: "Rôle",
    state: "État",
    admin: "administrateur",
    user: "utilisateur",
    enabled: "actif",
    disabled: "désactivé",
    enable: "Activer",
    disable: "Désactiver",
    add_account: "Ajouter un compte",
    add: "Ajouter",
    refused: "Refusé",
    my_devices: "Mes appareils",
    no_devices: "Aucun appareil.",
    device: "Appareil",
    device_type: "Type",
    model: "Modèle",
    last_sync: "Dernière synchronisation",
    wipe_status: "Effacement à distance",
    wipe: "Effacer",
    wipe_question: "Tout effacer sur cet appareil à sa prochaine connexion ? C'est \
                    irréversible.",
    wipe_confirm: "Oui, l'effacer",
    cancel: "Annuler",
    not_your_device: "Cet appareil n'est pas le vôtre.",
    change_password: "Changer mon mot de passe",
    current_password: "Mot de passe actuel",
    new_password: "Nouveau mot de passe",
    change: "Changer",
    wrong_password: "Le mot de passe actuel est incorrect.",
    password_changed: "Votre mot de passe a été changé.",
    wipe_requested: "L'appareil sera effacé à sa prochaine connexion.",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_then_accept_language_then_english() {
        assert_eq!(Lang::choose(None, None), Lang::En);
        assert_eq!(
            Lang::choose(None, Some("fr-FR,fr;q=0.9,en;q=0.8")),
            Lang::Fr
        );
        assert_eq!(
            Lang::choose(None, Some("de-DE, en;q=0.5, fr;q=0.7")),
            Lang::Fr
        );
        assert_eq!(Lang::choose(None, Some("en-GB, fr")), Lang::En);
        assert_eq!(Lang::choose(None, Some("fr;q=0, en;q=0.1")), Lang::En);
        assert_eq!(Lang::choose(None, Some("de, es")), Lang::En);
        assert_eq!(Lang::choose(None, Some("fr;q=bogus")), Lang::En);
        assert_eq!(Lang::choose(Some("en"), Some("fr")), Lang::En);
        assert_eq!(Lang::choose(Some("xx"), Some("fr")), Lang::Fr);
        assert_eq!(quality("0.25"), 250);
        assert_eq!(quality("1.000"), 1000);
        assert_eq!(quality("1.5"), 0);
    }
}
