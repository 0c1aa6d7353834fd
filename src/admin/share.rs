//! Sharing admin operations: groups and their members, folders an account shares with
//! accounts or groups, and public folders (`easd group`, `easd folder`,
//! `easd public-folder`), and the GAL's sources among them: contacts folders flagged as
//! GAL sources and groups whose members are all in the GAL. A grantee given as text is an account when it holds an `@`,
//! else a group name; a folder is named by its display name (case-insensitive) or its id.

use serde::{Deserialize, Serialize};

use super::AdminError;
use super::error::find_account;
use super::reply::{GalSourceSummary, GroupSummary, Reply, ShareReply, ShareSummary};
use crate::store::directory::{self, DirectoryReads};
use crate::store::model::{
    Account, AccountId, Folder, FolderId, FolderType, Grantee, PublicFolder, Rights, Share,
};
use crate::store::ops::{self, Reads};
use crate::store::share::{self, ShareReads};
use crate::store::{Store, StoreError, WriteCtx, now};

/// A right beyond reading, which every share grants.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Right {
    Read,
    Write,
    Delete,
    CreateSubfolders,
}

fn rights_of(list: &[Right]) -> Rights {
    list.iter().fold(Rights::READ_ONLY, |r, right| match right {
        Right::Read => r,
        Right::Write => Rights { write: true, ..r },
        Right::Delete => Rights { delete: true, ..r },
        Right::CreateSubfolders => Rights {
            create_subfolders: true,
            ..r
        },
    })
}

/// `read`, `read,write,delete`, … as the lists show them.
pub fn rights_text(r: Rights) -> String {
    let mut out = vec!["read"];
    for (on, name) in [
        (r.write, "write"),
        (r.delete, "delete"),
        (r.create_subfolders, "create-subfolders"),
    ] {
        if on {
            out.push(name);
        }
    }
    out.join(",")
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "sop", rename_all = "snake_case")]
pub enum ShareRequest {
    GroupAdd {
        name: String,
    },
    GroupDel {
        name: String,
    },
    GroupMemberAdd {
        group: String,
        email: String,
    },
    GroupMemberDel {
        group: String,
        email: String,
    },
    GroupList,
    /// Sets a group's options: `gal_members`, its members all in the GAL.
    GroupSet {
        name: String,
        gal_members: bool,
    },
    /// Flags (or unflags) `owner`'s contacts folder `folder` as a GAL source.
    FolderGalSource {
        owner: String,
        folder: String,
        on: bool,
    },
    /// The contacts folders flagged as GAL sources.
    GalSourceList,
    /// Shares `owner`'s `folder` with `to` (an address or a group name); sharing again
    /// replaces the rights.
    FolderShare {
        owner: String,
        folder: String,
        to: String,
        rights: Vec<Right>,
    },
    FolderUnshare {
        owner: String,
        folder: String,
        to: String,
    },
    /// Every share, or those of one owner.
    ShareList {
        owner: Option<String>,
    },
    PublicAdd {
        owner: String,
        folder: String,
        rights: Vec<Right>,
    },
    PublicDel {
        owner: String,
        folder: String,
    },
    PublicList,
}

impl ShareRequest {
    pub fn op_name(&self) -> &'static str {
        match self {
            ShareRequest::GroupAdd { .. } => "group_add",
            ShareRequest::GroupDel { .. } => "group_del",
            ShareRequest::GroupMemberAdd { .. } => "group_member_add",
            ShareRequest::GroupMemberDel { .. } => "group_member_del",
            ShareRequest::GroupList => "group_list",
            ShareRequest::GroupSet { .. } => "group_set",
            ShareRequest::FolderGalSource { .. } => "folder_gal_source",
            ShareRequest::GalSourceList => "gal_source_list",
            ShareRequest::FolderShare { .. } => "folder_share",
            ShareRequest::FolderUnshare { .. } => "folder_unshare",
            ShareRequest::ShareList { .. } => "share_list",
            ShareRequest::PublicAdd { .. } => "public_folder_add",
            ShareRequest::PublicDel { .. } => "public_folder_del",
            ShareRequest::PublicList => "public_folder_list",
        }
    }

    pub fn changes(&self) -> bool {
        !matches!(
            self,
            ShareRequest::GroupList
                | ShareRequest::ShareList { .. }
                | ShareRequest::PublicList
                | ShareRequest::GalSourceList
        )
    }

    pub async fn run(self, store: &Store) -> Result<Reply, AdminError> {
        match self {
            ShareRequest::GroupAdd { name } => {
                let g = store
                    .write(move |ctx| share::create_group(ctx, &name))
                    .await?;
                Ok(done(format!("created group {}", g.name)))
            }
            ShareRequest::GroupDel { name } => {
                store
                    .write_or(move |ctx| {
                        let g = group(ctx, &name)?;
                        Ok::<_, AdminError>(share::delete_group(ctx, &g)?)
                    })
                    .await?;
                Ok(done("group deleted, with the shares granted to it".into()))
            }
            ShareRequest::GroupMemberAdd { group: name, email } => {
                member(store, name, email, true).await
            }
            ShareRequest::GroupMemberDel { group: name, email } => {
                member(store, name, email, false).await
            }
            ShareRequest::GroupList => {
                let groups = store
                    .view(|tx| {
                        let mut out = Vec::new();
                        for g in tx.groups()? {
                            let mut members = Vec::new();
                            for id in &g.members {
                                members.extend(tx.account(*id)?.map(|a| a.email));
                            }
                            out.push(GroupSummary {
                                name: g.name,
                                members,
                                gal_members: g.gal_members,
                            });
                        }
                        Ok::<_, StoreError>(out)
                    })
                    .await?;
                Ok(Reply::Share(ShareReply::Groups { groups }))
            }
            ShareRequest::GroupSet { name, gal_members } => {
                let message = store
                    .write_or(move |ctx| {
                        let mut g = group(ctx, &name)?;
                        g.gal_members = gal_members;
                        share::put_group(ctx, &g)?;
                        let state = if gal_members { "on" } else { "off" };
                        Ok::<_, AdminError>(format!("{}: gal-members={state}", g.name))
                    })
                    .await?;
                Ok(done(message))
            }
            ShareRequest::FolderGalSource { owner, folder, on } => {
                let message = store
                    .write_or(move |ctx| {
                        let (a, f) = owned_folder(ctx, &owner, &folder)?;
                        // Only contacts become directory entries ([MS-ASCMD] 2.2.3.142.2:
                        // the GAL holds people and their addresses).
                        if !matches!(f.kind, FolderType::Contacts | FolderType::UserContacts) {
                            return Err(AdminError::Invalid(format!(
                                "{}'s {:?} is not a contacts folder",
                                a.email, f.name
                            )));
                        }
                        let changed = directory::set_gal_source(ctx, a.id, f.id, on)?;
                        Ok(match (changed, on) {
                            (true, true) => format!("{}'s {:?} is a GAL source", a.email, f.name),
                            (true, false) => {
                                format!("{}'s {:?} is no longer a GAL source", a.email, f.name)
                            }
                            (false, true) => {
                                format!("{}'s {:?} was a GAL source already", a.email, f.name)
                            }
                            (false, false) => {
                                format!("{}'s {:?} was not a GAL source", a.email, f.name)
                            }
                        })
                    })
                    .await?;
                Ok(done(message))
            }
            ShareRequest::GalSourceList => {
                let sources = store
                    .view(|tx| {
                        let mut out = Vec::new();
                        for s in tx.gal_sources()? {
                            let (owner, folder) = names(tx, s.owner, s.folder)?;
                            out.push(GalSourceSummary { owner, folder });
                        }
                        Ok::<_, StoreError>(out)
                    })
                    .await?;
                Ok(Reply::Share(ShareReply::GalSources { sources }))
            }
            ShareRequest::FolderShare {
                owner,
                folder,
                to,
                rights,
            } => {
                let rights = rights_of(&rights);
                let what = store
                    .write_or(move |ctx| {
                        let (a, f) = owned_folder(ctx, &owner, &folder)?;
                        let grantee = grantee(ctx, &to)?;
                        if grantee == Grantee::Account(a.id) {
                            return Err(AdminError::Invalid(format!(
                                "{} owns the folder: it needs no share",
                                a.email
                            )));
                        }
                        share::put_share(
                            ctx,
                            &Share {
                                owner: a.id,
                                folder: f.id,
                                grantee,
                                rights,
                                created: now(),
                            },
                        )?;
                        Ok(format!(
                            "{}'s {:?} shared with {to} ({})",
                            a.email,
                            f.name,
                            rights_text(rights)
                        ))
                    })
                    .await?;
                Ok(done(what))
            }
            ShareRequest::FolderUnshare { owner, folder, to } => {
                store
                    .write_or(move |ctx| {
                        let (a, f) = owned_folder(ctx, &owner, &folder)?;
                        let grantee = grantee(ctx, &to)?;
                        if share::remove_share(ctx, a.id, f.id, grantee)? {
                            Ok(())
                        } else {
                            Err(AdminError::NotFound(format!(
                                "{}'s {:?} is not shared with {to}",
                                a.email, f.name
                            )))
                        }
                    })
                    .await?;
                Ok(done("share removed".into()))
            }
            ShareRequest::ShareList { owner } => {
                let owner = owner.map(|o| ops::normalize_email(&o)).transpose()?;
                let shares = store
                    .view(move |tx| {
                        let only = owner.as_deref().map(|e| find_account(tx, e)).transpose()?;
                        let mut out = Vec::new();
                        for s in tx.shares()? {
                            if only.as_ref().is_some_and(|a| a.id != s.owner) {
                                continue;
                            }
                            let grantee = match s.grantee {
                                Grantee::Account(id) => tx.account(id)?.map(|a| a.email),
                                Grantee::Group(id) => tx
                                    .groups()?
                                    .into_iter()
                                    .find(|g| g.id == id)
                                    .map(|g| format!("group {}", g.name)),
                            };
                            out.push(summary(tx, s.owner, s.folder, grantee, s.rights)?);
                        }
                        Ok::<_, AdminError>(out)
                    })
                    .await?;
                Ok(Reply::Share(ShareReply::Shares { shares }))
            }
            ShareRequest::PublicAdd {
                owner,
                folder,
                rights,
            } => {
                let rights = rights_of(&rights);
                let what = store
                    .write_or(move |ctx| {
                        let (a, f) = owned_folder(ctx, &owner, &folder)?;
                        share::put_public(
                            ctx,
                            &PublicFolder {
                                owner: a.id,
                                folder: f.id,
                                rights,
                                created: now(),
                            },
                        )?;
                        Ok::<_, AdminError>(format!(
                            "{}'s {:?} is public ({})",
                            a.email,
                            f.name,
                            rights_text(rights)
                        ))
                    })
                    .await?;
                Ok(done(what))
            }
            ShareRequest::PublicDel { owner, folder } => {
                store
                    .write_or(move |ctx| {
                        let (a, f) = owned_folder(ctx, &owner, &folder)?;
                        if share::remove_public(ctx, a.id, f.id)? {
                            Ok(())
                        } else {
                            Err(AdminError::NotFound(format!(
                                "{}'s {:?} is not a public folder",
                                a.email, f.name
                            )))
                        }
                    })
                    .await?;
                Ok(done("public folder removed".into()))
            }
            ShareRequest::PublicList => {
                let shares = store
                    .view(|tx| {
                        let mut out = Vec::new();
                        for p in tx.public_folders()? {
                            let everyone = Some("everyone".to_owned());
                            out.push(summary(tx, p.owner, p.folder, everyone, p.rights)?);
                        }
                        Ok::<_, AdminError>(out)
                    })
                    .await?;
                Ok(Reply::Share(ShareReply::Shares { shares }))
            }
        }
    }
}

fn done(message: String) -> Reply {
    Reply::Done { message }
}

async fn member(
    store: &Store,
    name: String,
    email: String,
    add: bool,
) -> Result<Reply, AdminError> {
    let email = ops::normalize_email(&email)?;
    let message = store
        .write_or(move |ctx| {
            let g = group(ctx, &name)?;
            let a = find_account(ctx, &email)?;
            let name = g.name.clone();
            let changed = share::set_members(ctx, g, |members| {
                let changed = if add {
                    members.insert(a.id)
                } else {
                    members.remove(&a.id)
                };
                changed.then_some(a.id)
            })?;
            match (changed, add) {
                (Some(_), true) => Ok(format!("{email} added to {name}")),
                (Some(_), false) => Ok(format!("{email} removed from {name}")),
                (None, true) => Err(AdminError::Conflict(format!(
                    "{email} is already a member of {name}"
                ))),
                (None, false) => Err(AdminError::NotFound(format!(
                    "{email} is not a member of {name}"
                ))),
            }
        })
        .await?;
    Ok(done(message))
}

fn summary(
    tx: &impl Reads,
    owner: AccountId,
    folder: FolderId,
    grantee: Option<String>,
    rights: Rights,
) -> Result<ShareSummary, StoreError> {
    let (owner, folder) = names(tx, owner, folder)?;
    Ok(ShareSummary {
        owner,
        folder,
        grantee: grantee.unwrap_or_else(|| "?".into()),
        rights: rights_text(rights),
    })
}

/// An owner's address and its folder's name, as the lists show them.
fn names(
    tx: &impl Reads,
    owner: AccountId,
    folder: FolderId,
) -> Result<(String, String), StoreError> {
    Ok((
        tx.account(owner)?
            .map_or_else(|| format!("account {owner}"), |a| a.email),
        tx.folder(owner, folder)?
            .map_or_else(|| format!("folder {folder}"), |f| f.name),
    ))
}

fn group(tx: &impl ShareReads, name: &str) -> Result<crate::store::model::Group, AdminError> {
    tx.group_by_name(name)?
        .ok_or_else(|| AdminError::NotFound(format!("no group {name}")))
}

fn grantee(ctx: &WriteCtx, to: &str) -> Result<Grantee, AdminError> {
    if to.contains('@') {
        let email = ops::normalize_email(to)?;
        Ok(Grantee::Account(find_account(ctx, &email)?.id))
    } else {
        Ok(Grantee::Group(group(ctx, to)?.id))
    }
}

/// `email`'s folder named `folder` (display name, case-insensitive, or id).
fn owned_folder(
    ctx: &WriteCtx,
    email: &str,
    folder: &str,
) -> Result<(Account, Folder), AdminError> {
    let email = ops::normalize_email(email)?;
    let a = find_account(ctx, &email)?;
    let folders = ctx.folders(a.id)?;
    let wanted = folder.trim();
    let mut hits = folders.into_iter().filter(|f| {
        wanted.parse::<FolderId>().is_ok_and(|id| id == f.id) || f.name.eq_ignore_ascii_case(wanted)
    });
    let f = hits
        .next()
        .ok_or_else(|| AdminError::NotFound(format!("no folder {wanted:?} for {email}")))?;
    if let Some(other) = hits.next() {
        return Err(AdminError::Invalid(format!(
            "{email} has several folders named {wanted:?} (ids {} and {}): name it by id",
            f.id, other.id
        )));
    }
    // The recipient cache is the device's own address book of recent recipients.
    if f.kind == FolderType::RecipientCache {
        return Err(AdminError::Invalid(
            "the recipient cache cannot be shared".into(),
        ));
    }
    Ok((a, f))
}
