"""FAB's own strings that its Chinese catalog lacks (its user, role and group pages, the list widget's
tooltips, the confirm dialog). Named here so that extraction puts them into our catalogs, whose Chinese
then serves FAB's pages too (flask-babel merges our catalog with FAB's)."""


def N_(message):
    return message


FAB_MESSAGES = [
    N_("List Groups"),
    N_("Groups"),
    N_("Add Group"),
    N_("Edit Group"),
    N_("Show Group"),
    N_("Show"),
    N_("Edit"),
    N_("Delete"),
    N_("Add"),
    N_("Are you sure you want to delete this item?"),
    N_("Contains (insensitive)"),
    N_("Database Error"),
    N_("Edit User Information"),
    N_("Either select a role or a group"),
    N_("In"),
    N_("Not In"),
    N_("Other View"),
    N_("Must have at least two capital letters,"),
    N_("Please use a good password policy,"),
    N_("Sign In with "),
    N_("Statistics"),
    N_("The user group on the application,"),
    N_("The user role on the application,"),
    N_("The user's password for authentication"),
    N_("User information changed"),
    N_("User(s) exists in the group, cannot delete"),
    N_("User(s) exists in the role, cannot delete"),
    N_("Your Feature"),
    N_("Refresh"),
]
