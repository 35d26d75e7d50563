// The example app's script: enough for the build to have something to bundle.
document.addEventListener('DOMContentLoaded', () => {
  document.body.dataset.ready = 'yes';
});
