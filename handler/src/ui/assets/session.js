// What the pages share: the token (in this tab's sessionStorage only), the workspace's agents,
// and hooks the app sets, so that modules need not import it back.

const TOKEN_KEY = "crewship.token";

export const session = {
  agents: [],
  workspace: null,
  // Set by the app: forget the token and show the sign-in form with `reason`.
  signOut: (_reason) => {},
  // Set by the page shown: what to undo when it is left (listeners, followed runs).
  leave: () => {},
  // Counts page visits: a page whose visit is over when an awaited call returns stops there.
  visit: 0,
};

export const token = () => sessionStorage.getItem(TOKEN_KEY);
export const setToken = (value) => sessionStorage.setItem(TOKEN_KEY, value);
export const clearToken = () => sessionStorage.removeItem(TOKEN_KEY);
