// The periodic task form's script from django-celery-beat (admin/djcelery/change_periodictask_form.html), as a
// file: the Content-Security-Policy runs no inline script. The crontab's help says what the chosen crontab means.
"use strict";
django.jQuery(function ($) {
  const readableCrontabs = JSON.parse($("#readable-crontabs").text());
  const help = $(".field-crontab .help");
  const originalHelp = help.text();

  $(".field-crontab_translation").hide();
  $(".field-crontab").change(function () {
    const translation = document.createTextNode(`Translation: ${readableCrontabs[$("#id_crontab").val()]}`);
    help.text(originalHelp).append("<br>", translation);
  });
});
